using System.Text.Json;
using System.Text.Json.Serialization;
using Xcos.ML.Images;

namespace Xcos.ML.FaceModels;

/// <summary>
/// Describes how to run an ONNX face-embedding model as an xCos backbone: file, input geometry and normalisation,
/// value names, decision threshold and the calibration data of the weight-derived explanation. Stored as JSON
/// (snake_case keys), e.g. <c>data/fr_feature/descriptor.json</c>.
/// </summary>
public sealed class FaceModelDescriptor
{
    /// <summary>Short model name (e.g. "fr_feature").</summary>
    public string Name { get; set; } = "";

    /// <summary>ONNX file name, looked up in the models folder.</summary>
    public string OnnxFile { get; set; } = "";

    /// <summary>Side of the square aligned face the model takes (default 112).</summary>
    public int InputSize { get; set; } = 112;

    /// <summary>Colour plane order of the input: "rgb" (default) or "bgr".</summary>
    public string ColorOrder { get; set; } = "rgb";

    /// <summary>Subtracted from each 0..255 pixel value (default 127.5).</summary>
    public float Mean { get; set; } = 127.5f;

    /// <summary>Multiplies the centred value: <c>v = (x - Mean) * Scale</c> (default 1/127.5).</summary>
    public float Scale { get; set; } = 1 / 127.5f;

    /// <summary>Input value name; null takes the model's only input.</summary>
    public string? InputName { get; set; }

    /// <summary>Embedding output name; null takes the model's first output.</summary>
    public string? EmbeddingName { get; set; }

    /// <summary>Name of the last spatial feature map; null finds the last 7x7 map (<c>OnnxModelFile.FindLastFeatureMap</c>).</summary>
    public string? FeatureMapName { get; set; }

    /// <summary>Cosine threshold of the model's decision (same when cosine &gt;= threshold).</summary>
    public double Threshold { get; set; }

    /// <summary>How the threshold was chosen (free text, for reports).</summary>
    public string? ThresholdSource { get; set; }

    /// <summary>
    /// Which score decides 1:1: "cosine" (default: the embedding cosine against <see cref="Threshold"/>) or "xcos" (the
    /// learned xCos head over <see cref="FeatureMapName"/>'s map against <see cref="XcosThreshold"/>, whenever the learned
    /// head runs). Either way the embedding cosine shortlists 1:N searches and decides their open-set "unknown".
    /// </summary>
    public string Decides { get; set; } = "cosine";

    /// <summary>Threshold of the learned xCos when <see cref="Decides"/> is "xcos" (same when xCos is above it); required then.</summary>
    public double? XcosThreshold { get; set; }

    /// <summary>How <see cref="XcosThreshold"/> was chosen (free text, for reports).</summary>
    public string? XcosThresholdSource { get; set; }

    /// <summary>Whether the learned xCos decides 1:1 (<see cref="Decides"/> is "xcos").</summary>
    [JsonIgnore]
    public bool DecidesByXcos => Decides == "xcos";

    /// <summary>
    /// The score that decides 1:1 with the given xCos variant and its threshold: the learned xCos and
    /// <see cref="XcosThreshold"/> when this model decides by xCos and the learned head runs, else the cosine and
    /// <see cref="Threshold"/>.
    /// </summary>
    public (string Score, double Threshold) Decision(bool learnedHead) =>
        learnedHead && DecidesByXcos ? ("xcos", XcosThreshold!.Value) : ("cosine", Threshold);

    /// <summary>xCos variant: "weights" (weight-derived, needs an affine head after the map) or "learned" (the learned head next to the descriptor, <see cref="Heads.LearnedHead"/>).</summary>
    public string XcosVariant { get; set; } = "weights";

    /// <summary>Attention of the weight-derived xCos: "kernel" (each cell's share of head energy), "pair" (|u1_c| |u2_c|) or "contribution" (contribution energy; the map is each cell's cosine with the other face's embedding).</summary>
    public string Attention { get; set; } = "kernel";

    // The texts of the weight-derived head's WeightDerivedAttention, spelled out here because FaceModels/ does not import Heads/
    // (docs/architecture.md); FaceModelDescriptorTests checks they are WeightDerivedAttentionText's texts.
    internal static readonly string[] AttentionTexts = ["kernel", "pair", "contribution"];

    /// <summary>Whether cell features are centred on the calibration means before the cell cosines.</summary>
    public bool Centre { get; set; } = true;

    /// <summary>
    /// Slope a of the affine calibration of the weight-derived cell cosines, <c>map_c = a * cos_c + b</c>, that puts xCos on
    /// the cosine's scale (default 1: uncalibrated). Must be &gt; 0 so the ranking is kept.
    /// </summary>
    public double XcosScale { get; set; } = 1;

    /// <summary>Offset b of that calibration (default 0).</summary>
    public double XcosOffset { get; set; }

    /// <summary>Shift each pair's map by its residual so xCos equals the cosine (<c>WeightDerivedXcosOptions.MatchCosine</c>; default false).</summary>
    public bool XcosMatchCosine { get; set; }

    /// <summary>How <see cref="XcosScale"/> and <see cref="XcosOffset"/> were fitted (free text, for reports).</summary>
    public string? XcosCalibrationSource { get; set; }

    /// <summary>Calibration file (per-cell means) relative to the descriptor's folder; null for none.</summary>
    public string? CalibrationFile { get; set; }

    /// <summary>For a model assembled at fetch time: the base model file in the models folder (e.g. fr_feature.onnx).</summary>
    public string? BaseOnnxFile { get; set; }

    /// <summary>For a model assembled at fetch time: the trained tail next to the descriptor (<see cref="FineTunedTail"/>).</summary>
    public string? TailFile { get; set; }

    /// <summary>SHA-256 of the assembled <see cref="OnnxFile"/> (checked after assembly).</summary>
    public string? OnnxSha256 { get; set; }

    /// <summary>Where the model comes from (package, licence).</summary>
    public string? Source { get; set; }

    /// <summary>The normalisation as <see cref="FaceTensorOptions"/>.</summary>
    public FaceTensorOptions TensorOptions() => new() { Mean = Mean, Std = 1 / Scale, ChannelOrder = ParseOrder() };

    private ChannelOrder ParseOrder() => ColorOrder.ToLowerInvariant() switch
    {
        "rgb" => ChannelOrder.Rgb,
        "bgr" => ChannelOrder.Bgr,
        _ => throw new InvalidDataException($"descriptor '{Name}': color_order must be \"rgb\" or \"bgr\", got \"{ColorOrder}\""),
    };

    /// <summary>Checks every field; throws naming the first bad one.</summary>
    /// <exception cref="InvalidDataException">A missing or out-of-range field.</exception>
    public void Validate(string source = "descriptor")
    {
        if (string.IsNullOrWhiteSpace(OnnxFile)) throw new InvalidDataException($"{source}: onnx_file is required");
        if (InputSize <= 0) throw new InvalidDataException($"{source}: input_size must be positive, got {InputSize}");
        if (!(Scale > 0) || !float.IsFinite(Scale)) throw new InvalidDataException($"{source}: scale must be a positive number, got {Scale}");
        if (!float.IsFinite(Mean)) throw new InvalidDataException($"{source}: mean must be finite, got {Mean}");
        if (!double.IsFinite(Threshold) || Threshold < -1 || Threshold > 1) throw new InvalidDataException($"{source}: threshold must be a cosine in -1..1, got {Threshold}");
        if (Decides is not ("cosine" or "xcos")) throw new InvalidDataException($"{source}: decides must be \"cosine\" or \"xcos\", got \"{Decides}\"");
        if (DecidesByXcos && XcosThreshold is null) throw new InvalidDataException($"{source}: decides \"xcos\" needs xcos_threshold (the learned xCos's threshold)");
        if (XcosThreshold is { } t && (!double.IsFinite(t) || t < -1 || t > 1)) throw new InvalidDataException($"{source}: xcos_threshold must be in -1..1, got {t}");
        if (XcosVariant is not ("weights" or "learned")) throw new InvalidDataException($"{source}: xcos_variant \"{XcosVariant}\" is not supported (\"weights\" or \"learned\")");
        if ((BaseOnnxFile is null) != (TailFile is null)) throw new InvalidDataException($"{source}: base_onnx_file and tail_file go together (an assembled model needs both)");
        if (!(XcosScale > 0) || !double.IsFinite(XcosScale)) throw new InvalidDataException($"{source}: xcos_scale must be a finite number > 0 (a monotone calibration keeps the ranking), got {XcosScale}");
        if (!double.IsFinite(XcosOffset)) throw new InvalidDataException($"{source}: xcos_offset must be finite, got {XcosOffset}");
        if (!AttentionTexts.Contains(Attention, StringComparer.Ordinal)) throw new InvalidDataException($"{source}: attention must be \"kernel\", \"pair\" or \"contribution\", got \"{Attention}\"");
        try { ParseOrder(); } catch (InvalidDataException e) { throw new InvalidDataException($"{source}: {e.Message}"); }
    }

    /// <summary>
    /// The model file in <paramref name="modelsDir"/>; a model assembled from a base model and a trained tail
    /// (<see cref="BaseOnnxFile"/>, <see cref="TailFile"/>) is assembled there on first use (<see cref="FineTunedTail.EnsureAssembled"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file (or the base model) is not there; the message says to run <c>xcos models fetch</c>.</exception>
    /// <exception cref="InvalidDataException">The base model is not the one the tail was trained on.</exception>
    public string OnnxPath(string modelsDir, string descriptorPath)
    {
        var onnx = FineTunedTail.EnsureAssembled(this, descriptorPath, modelsDir);
        if (!File.Exists(onnx)) throw new FileNotFoundException($"face model {onnx} not found; run `xcos models fetch` (or set {ModelStore.EnvironmentVariable})", onnx);
        return onnx;
    }

    /// <summary>The descriptor as the JSON that <see cref="Load"/> reads back.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FaceModelJsonContext.Default.FaceModelDescriptor);

    /// <summary>Parses and validates JSON; <paramref name="source"/> names it in errors.</summary>
    public static FaceModelDescriptor FromJson(string json, string source = "descriptor")
    {
        FaceModelDescriptor? d;
        try { d = JsonSerializer.Deserialize(json, FaceModelJsonContext.Default.FaceModelDescriptor); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not a valid face-model descriptor: {e.Message}", e); }
        if (d is null) throw new InvalidDataException($"{source}: empty descriptor");
        d.Validate(source);
        return d;
    }

    /// <summary>Reads a descriptor file.</summary>
    public static FaceModelDescriptor Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"face-model descriptor not found: {path}", path);
        return FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Writes the descriptor to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllText(path, ToJson() + "\n");

    /// <summary>The shipped descriptor of <c>fr_feature.onnx</c> (<see cref="ShippedPath"/>).</summary>
    public static FaceModelDescriptor FrFeature() => Load(ShippedPath());

    /// <summary>
    /// The descriptor shipped for <c>fr_feature.onnx</c> of npm <c>faceplugin-face-recognition-js@0.0.1</c>, read from
    /// <c>data/fr_feature/descriptor.json</c> next to the application (copied to the output folder).
    /// </summary>
    public static string ShippedPath(string name = "fr_feature") => Path.Combine(AppContext.BaseDirectory, "data", name, "descriptor.json");

    /// <summary>
    /// The descriptor file a model argument names: a shipped model's name (<c>data/NAME/descriptor.json</c> next to the
    /// application: fr_feature, fr_feature_xcos) or the path of a descriptor .json.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither a shipped model nor an existing file (the message lists the shipped ones).</exception>
    public static string ResolvePath(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (!model.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && model.IndexOfAny(['/', '\\']) < 0 && File.Exists(ShippedPath(model))) return ShippedPath(model);
        if (File.Exists(model)) return Path.GetFullPath(model);
        var data = Path.Combine(AppContext.BaseDirectory, "data");
        string[] shipped = Directory.Exists(data) ? [.. Directory.GetDirectories(data).Where(d => File.Exists(Path.Combine(d, "descriptor.json"))).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal)] : [];
        throw new FileNotFoundException($"face model '{model}': expected a shipped model ({string.Join(", ", shipped)}) or an existing descriptor .json file", model);
    }
}

/// <summary>Source-generated JSON for descriptors (works with trimming, AOT and reflection-disabled hosts).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(FaceModelDescriptor))]
internal sealed partial class FaceModelJsonContext : JsonSerializerContext;
