using System.Diagnostics;
using Xcos.ML.Explain;
using Xcos.ML.Images;

namespace Xcos.ML.FaceModels;

/// <summary>Settings of <see cref="RealFaceVerifier"/>.</summary>
public sealed class RealFaceVerifierOptions
{
    /// <summary>Models folder; null uses <see cref="ModelStore.ResolveDirectory"/> (XCOS_MODELS, else the user's data folder).</summary>
    public string? ModelsDir { get; set; }

    /// <summary>Descriptor file; null uses the shipped <c>data/fr_feature/descriptor.json</c>.</summary>
    public string? DescriptorPath { get; set; }

    /// <summary>
    /// xCos variant: "weights" (weight-derived from the model's affine head; default) or "learned" (the paper's grid
    /// layer + attention trained head-only on the model's cosine, run by ONNX Runtime: <see cref="LearnedHead"/>).
    /// Either way the model's cosine decides.
    /// </summary>
    public string XcosVariant { get; set; } = "weights";

    /// <summary>Learned head file for "learned"; null takes <c>learned_head.onnx</c> next to the descriptor.</summary>
    public string? LearnedHeadPath { get; set; }

    /// <summary>Cosine threshold; null takes the descriptor's.</summary>
    public double? Threshold { get; set; }

    /// <summary>Attention override ("kernel", "pair" or "contribution"); null takes the descriptor's.</summary>
    public string? Attention { get; set; }

    /// <summary>Centring override; null takes the descriptor's (false when it names no calibration file).</summary>
    public bool? Centre { get; set; }

    /// <summary>Whether to apply the descriptor's xCos calibration (xcos_scale, xcos_offset, xcos_match_cosine); default true.</summary>
    public bool Calibrate { get; set; } = true;

    /// <summary>ONNX Runtime intra-op threads per session; 0 (default) lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Float model, or its int8 form next to it (<see cref="OnnxFaceEmbedder.Int8Path"/>). Default float.</summary>
    public OnnxPrecision Precision { get; set; }

    /// <summary>Detector settings (thresholds).</summary>
    public FaceDetectorOptions Detector { get; set; } = new();
}

/// <summary>What was found in one photo.</summary>
/// <param name="Path">The photo.</param>
/// <param name="Status">"ok", or "no_face".</param>
/// <param name="FaceCount">Faces found.</param>
/// <param name="Box">Box of the face used (the largest), or null.</param>
/// <param name="DetectionScore">Its detector confidence, or null.</param>
/// <param name="Landmarks">Its five landmarks as [x, y] pairs in photo pixels, or null.</param>
public sealed record RealFaceReport(string Path, string Status, int FaceCount, FaceBox? Box, float? DetectionScore, double[][]? Landmarks);

/// <summary>Result of verifying two photos. The decision is the model's cosine against the threshold; xCos explains it.</summary>
/// <param name="Status">"ok", or "no_face" when either photo has no face (then scores and maps are null).</param>
/// <param name="Score">xCos of the chosen variant (weight-derived, or the learned head's).</param>
/// <param name="Cosine">The model's embedding cosine.</param>
/// <param name="Decision">What decides: always "cosine".</param>
/// <param name="Same">Cosine &gt;= threshold.</param>
/// <param name="Threshold">The threshold used.</param>
/// <param name="CosMap">Per-cell cosines (49 for 7x7), row-major.</param>
/// <param name="Attention">Per-cell attention, summing to 1.</param>
/// <param name="Contributions">Per-cell exact contributions; with <paramref name="BiasContribution"/> they sum to the cosine of the rebuilt embeddings.</param>
/// <param name="BiasContribution">The head's constant term's share of the cosine.</param>
/// <param name="Face1">First photo.</param>
/// <param name="Face2">Second photo.</param>
/// <param name="Milliseconds">Wall time of detect + align + embed + explain.</param>
public sealed record RealFaceResult(string Status, double? Score, double? Cosine, string Decision, bool Same, double Threshold,
    float[]? CosMap, float[]? Attention, float[]? Contributions, double? BiasContribution, RealFaceReport Face1, RealFaceReport Face2, double Milliseconds);

/// <summary>
/// Real photographs to an explained decision: detect (fr_detect + fr_landmark), align (five points onto the 112x112
/// ArcFace template), embed with an ONNX face model (default fr_feature) and explain with the weight-derived xCos.
/// </summary>
/// <remarks>Thread-safe after construction.</remarks>
public sealed class RealFaceVerifier : IDisposable
{
    private readonly FaceDetector _detector;
    private readonly OnnxFaceEmbedder _embedder;

    /// <summary>Loads the models and the descriptor.</summary>
    /// <exception cref="FileNotFoundException">A model, descriptor or calibration file is missing (the message says how to fetch models).</exception>
    public RealFaceVerifier(RealFaceVerifierOptions? options = null)
    {
        Options = options ?? new RealFaceVerifierOptions();
        if (Options.XcosVariant is not ("weights" or "learned")) throw new ArgumentException($"xcos variant \"{Options.XcosVariant}\" is not available for ONNX face models; use \"weights\" or \"learned\"");
        ModelsDir = ModelStore.ResolveDirectory(Options.ModelsDir);
        var descriptorPath = Options.DescriptorPath ?? FaceModelDescriptor.ShippedPath();
        Descriptor = FaceModelDescriptor.Load(descriptorPath);
        var onnx = Path.Combine(ModelsDir, Descriptor.OnnxFile);
        if (!File.Exists(onnx)) throw new FileNotFoundException($"face model {onnx} not found; run `xcos models fetch` (or set {ModelStore.EnvironmentVariable})", onnx);
        _detector = new FaceDetector(Path.Combine(ModelsDir, "fr_detect.onnx"), Path.Combine(ModelsDir, "fr_landmark.onnx"), new FaceDetectorOptions
        {
            ConfidenceThreshold = Options.Detector.ConfidenceThreshold, TopK = Options.Detector.TopK, NmsThreshold = Options.Detector.NmsThreshold,
            DetectorChannelOrder = Options.Detector.DetectorChannelOrder, IntraOpThreads = Options.IntraOpThreads,
        });
        try
        {
            _embedder = new OnnxFaceEmbedder(Descriptor, onnx, Options.IntraOpThreads, Options.Precision);
            Head = WeightDerivedHead.Extract(_embedder.Model, _embedder.FeatureMapName, _embedder.EmbeddingName);
            float[]? means = null;
            if (Descriptor.CalibrationFile is { } cal)
                means = CellMeansFile.Read(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(descriptorPath))!, cal), Head.Cells, Head.Dim).Means;
            var attention = (Options.Attention ?? Descriptor.Attention) switch
            {
                "kernel" => WeightDerivedAttention.Kernel,
                "pair" => WeightDerivedAttention.Pair,
                "contribution" => WeightDerivedAttention.Contribution,
                var a => throw new ArgumentException($"attention must be \"kernel\", \"pair\" or \"contribution\", got \"{a}\""),
            };
            Xcos = new WeightDerivedXcos(Head, means, new WeightDerivedXcosOptions
            {
                Attention = attention, Centre = (Options.Centre ?? Descriptor.Centre) && means is not null && attention != WeightDerivedAttention.Contribution,
                Scale = Options.Calibrate ? Descriptor.XcosScale : 1, Offset = Options.Calibrate ? Descriptor.XcosOffset : 0,
                MatchCosine = Options.Calibrate && Descriptor.XcosMatchCosine,
            });
            if (Options.XcosVariant == "learned")
            {
                var headPath = Options.LearnedHeadPath ?? LearnedHead.NextTo(descriptorPath)
                    ?? throw new FileNotFoundException($"no learned xCos head for '{Descriptor.Name}': expected {LearnedHead.DefaultFileName} next to {descriptorPath}; train one with `xcos train --mode head --onnx-model`");
                Learned = new LearnedHead(headPath, Options.IntraOpThreads);
                Learned.CheckFits(Descriptor, _embedder.MapShape[0]);
            }
        }
        catch
        {
            _detector.Dispose();
            _embedder?.Dispose();
            Learned?.Dispose();
            throw;
        }
        Threshold = Options.Threshold ?? Descriptor.Threshold;
    }

    /// <summary>The options.</summary>
    public RealFaceVerifierOptions Options { get; }
    /// <summary>The models folder in use.</summary>
    public string ModelsDir { get; }
    /// <summary>The face-model descriptor.</summary>
    public FaceModelDescriptor Descriptor { get; }
    /// <summary>The decision threshold.</summary>
    public double Threshold { get; }
    /// <summary>The folded head.</summary>
    public WeightDerivedHead Head { get; }
    /// <summary>The weight-derived explainer (always present: its contributions decompose the cosine).</summary>
    public WeightDerivedXcos Xcos { get; }
    /// <summary>Names the xCos variant in use for reports: "learned", or the weight-derived one (<see cref="WeightDerivedXcosOptions.Describe"/>).</summary>
    public string XcosVariant => Learned is null ? Xcos.Options.Describe() : "learned";
    /// <summary>The learned head when <see cref="RealFaceVerifierOptions.XcosVariant"/> is "learned", else null.</summary>
    public LearnedHead? Learned { get; }
    /// <summary>The detector.</summary>
    public FaceDetector Detector => _detector;
    /// <summary>The embedder.</summary>
    public OnnxFaceEmbedder Embedder => _embedder;

    /// <summary>Verifies two photo files.</summary>
    public RealFaceResult Verify(string photo1Path, string photo2Path)
    {
        var sw = Stopwatch.StartNew();
        var a = ImageIO.Load(photo1Path);
        var b = ImageIO.Load(photo2Path);
        return Verify(a, b, photo1Path, photo2Path, sw);
    }

    /// <summary>Verifies two decoded photos; the names label the reports.</summary>
    public RealFaceResult Verify(RgbImage photo1, RgbImage photo2, string name1 = "photo1", string name2 = "photo2") =>
        Verify(photo1, photo2, name1, name2, Stopwatch.StartNew());

    private RealFaceResult Verify(RgbImage photo1, RgbImage photo2, string name1, string name2, Stopwatch sw)
        => VerifyDetailed(photo1, photo2, name1, name2, sw).Result;

    /// <summary>As <see cref="Verify(RgbImage, RgbImage, string, string)"/>, also returning the aligned faces (null where none was found), e.g. for figures.</summary>
    public (RealFaceResult Result, RgbImage? Face1, RgbImage? Face2) VerifyDetailed(RgbImage photo1, RgbImage photo2, string name1 = "photo1", string name2 = "photo2")
        => VerifyDetailed(photo1, photo2, name1, name2, Stopwatch.StartNew());

    private (RealFaceResult Result, RgbImage? Face1, RgbImage? Face2) VerifyDetailed(RgbImage photo1, RgbImage photo2, string name1, string name2, Stopwatch sw)
    {
        var (r1, f1) = Analyse(photo1, name1);
        var (r2, f2) = Analyse(photo2, name2);
        if (f1 is null || f2 is null)
            return (new RealFaceResult("no_face", null, null, "cosine", false, Threshold, null, null, null, null, r1, r2, sw.Elapsed.TotalMilliseconds), f1, f2);
        var emb = _embedder.Embed([f1, f2]);
        var ex = Explain(emb[0], emb[1]);
        double cosine = Cosine(emb[0].Embedding, emb[1].Embedding);
        return (new RealFaceResult("ok", ex.Xcos, cosine, "cosine", cosine >= Threshold, Threshold, ex.CosMap, ex.Attention, ex.Contributions, ex.BiasContribution, r1, r2, sw.Elapsed.TotalMilliseconds), f1, f2);
    }

    /// <summary>
    /// Explains two embedded faces with the chosen variant: xCos, cosine map and attention are the learned head's when
    /// <see cref="Learned"/> is set, else the weight-derived ones; the contributions are always the weight-derived
    /// exact decomposition of the cosine.
    /// </summary>
    public WeightDerivedExplanation Explain(FaceEmbedding a, FaceEmbedding b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var ex = Xcos.Explain(a.FeatureMap, b.FeatureMap);
        if (Learned is null) return ex;
        var l = Learned.Explain(a.FeatureMap, b.FeatureMap);
        return ex with { Xcos = l.Xcos, CosMap = l.CosMap, Attention = l.Attention, Variant = "learned" };
    }

    /// <summary>Detects the primary face of a photo and aligns it; the aligned face is null when none is found.</summary>
    public (RealFaceReport Report, RgbImage? Aligned) Analyse(RgbImage photo, string name)
    {
        var (det, face) = _detector.DetectAndAlign(photo);
        if (det.Primary is not { } p || face is null) return (new RealFaceReport(name, "no_face", 0, null, null, null), null);
        var aligned = face;
        if (aligned.Width != Descriptor.InputSize) aligned = ImageOps.Resize(aligned, Descriptor.InputSize, Descriptor.InputSize);
        return (new RealFaceReport(name, "ok", det.FaceCount, p.Box, p.Score, p.Landmarks5.Select(q => new[] { q.X, q.Y }).ToArray()), aligned);
    }

    /// <summary>Cosine of two vectors (double accumulation).</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _detector.Dispose();
        _embedder.Dispose();
        Learned?.Dispose();
    }
}
