using System.CommandLine;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Verification;

namespace Xcos.Cli;

/// <summary>Options of the real-photo path: the ONNX face model, the xCos variant and where the models are.</summary>
internal sealed class RealFaceArgs
{
    public readonly Option<string> Model = new("--model") { Description = "Face model: fr_feature (default), another shipped model (fr_feature_xcos) or a descriptor .json of an ONNX face model", DefaultValueFactory = _ => "fr_feature" };
    public readonly Option<string?> Xcos = new("--xcos") { Description = "xCos variant for ONNX models: weights (derived from the model's own affine head) or learned (the paper's grid layer + attention: learned_head.onnx next to the descriptor, or --learned-head). Default: learned for a model whose descriptor decides by xCos, else weights" };
    public readonly Option<FileInfo?> LearnedHead = new("--learned-head") { Description = "Learned xCos head (.onnx from `xcos train --mode head --onnx-model MODEL`) for --xcos learned (default: learned_head.onnx next to the model's descriptor)" };
    public readonly Option<DirectoryInfo?> ModelsDir = new("--models-dir") { Description = "Where `xcos models fetch` put the models (default: $XCOS_MODELS or the user data folder)" };
    public readonly Option<string> Precision = new("--precision") { Description = "ONNX face model: fp32 (default) or int8 (NAME.int8.onnx next to the model, from `xcos export --face-model NAME --format onnx --precision int8 --calibration PHOTOS --out DIR`)", DefaultValueFactory = _ => "fp32" };

    /// <summary>Adds the options; <paramref name="withPrecision"/> false where the command has its own --precision (export).</summary>
    public void AddTo(Command command, bool withPrecision = true)
    {
        foreach (var o in new Option[] { Model, Xcos, LearnedHead, ModelsDir }) command.Options.Add(o);
        if (withPrecision) command.Options.Add(Precision);
    }

    public OnnxPrecision ParsePrecision(ParseResult p) => p.GetValue(Precision) switch
    {
        "fp32" => OnnxPrecision.Float32,
        "int8" => OnnxPrecision.Int8,
        var v => throw new CliException($"--precision '{v}': expected fp32 or int8.", ExitCodes.Usage),
    };

    /// <summary>A TorchSharp checkpoint runs in float: int8 is the ONNX face models' form.</summary>
    public void RejectInt8(ParseResult p)
    {
        if (ParsePrecision(p) == OnnxPrecision.Int8)
            throw new CliException("--precision int8 runs an ONNX face model (--model); a --checkpoint runs in fp32 (export it with `xcos export --checkpoint CHECKPOINT --format onnx --precision int8 --out DIR`).", ExitCodes.Usage);
    }

    public OnnxFacePairVerifier CreateVerifier(ParseResult p, double? threshold, int threads, bool aligned, bool flip = false)
    {
        var variant = Variant(p);
        var head = p.GetValue(LearnedHead);
        if (head is not null && variant != "learned") throw new CliException("--learned-head is used only with --xcos learned.", ExitCodes.Usage);
        return Create(p, new OnnxFacePairVerifierOptions
        {
            Threshold = threshold, IntraOpThreads = threads, Variant = XcosVariantText.ParseOnnx(variant), LearnedHeadPath = head?.FullName,
            AlignedInput = aligned, Precision = ParsePrecision(p), Flip = flip,
        });
    }

    /// <summary>--xcos, or when absent the model's own choice: learned for a descriptor that decides by xCos, else weights.</summary>
    public string Variant(ParseResult p) => VariantOf(p.GetValue(Xcos), () => Descriptor(p).Descriptor);

    /// <summary>The --xcos text checked, or the default of the descriptor <paramref name="descriptor"/> loads.</summary>
    public static string VariantOf(string? given, Func<FaceModelDescriptor> descriptor) => given switch
    {
        null => descriptor().DecidesByXcos ? "learned" : "weights",
        "weights" or "learned" => given,
        _ => throw new CliException($"--xcos '{given}': expected weights or learned.", ExitCodes.Usage),
    };

    /// <summary>
    /// The fp32 verifier with the weight-derived xCos, for a command that adds only <see cref="Model"/> and
    /// <see cref="ModelsDir"/> (faithfulness explains that xCos and no other).
    /// </summary>
    public OnnxFacePairVerifier CreateWeightsVerifier(ParseResult p, int threads) =>
        Create(p, new OnnxFacePairVerifierOptions { IntraOpThreads = threads, Variant = XcosVariant.Weights });

    // --model and --models-dir complete the options every caller sets
    private OnnxFacePairVerifier Create(ParseResult p, OnnxFacePairVerifierOptions options)
    {
        string descriptor = DescriptorPath(p);
        options.ModelsDir = p.GetValue(ModelsDir)?.FullName;
        options.DescriptorPath = descriptor;
        try
        {
            return new OnnxFacePairVerifier(options);
        }
        catch (FileNotFoundException e) { throw new CliException(e.Message); }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
    }

    /// <summary>The face model's descriptor (--model) and the folder of its data files.</summary>
    public (FaceModelDescriptor Descriptor, string Folder) Descriptor(ParseResult p)
    {
        string path = DescriptorPath(p);
        try { return (FaceModelDescriptor.Load(path), Path.GetDirectoryName(path)!); }
        catch (FileNotFoundException e) { throw new CliException(e.Message); }
    }

    /// <summary>The descriptor file --model names (a shipped model's name or a .json path).</summary>
    public string DescriptorPath(ParseResult p) => ResolveModel(p.GetValue(Model)!, "--model");

    /// <summary>A shipped model's descriptor or a descriptor file, as <see cref="FaceModelDescriptor.ResolvePath"/> finds it; a usage error otherwise.</summary>
    public static string ResolveModel(string model, string option)
    {
        try { return FaceModelDescriptor.ResolvePath(model); }
        catch (FileNotFoundException e) { throw new CliException($"{option}: {e.Message}.", ExitCodes.Usage); }
    }

    /// <summary>A detector for aligning raw photos before a TorchSharp checkpoint scores them.</summary>
    public FaceDetector CreateDetector(ParseResult p)
    {
        var dir = ModelStore.ResolveDirectory(p.GetValue(ModelsDir)?.FullName);
        if (!ModelStore.IsComplete(dir))
            throw new CliException($"photos need face detection, but the models are not in {dir}: run `xcos models fetch`, or pass --aligned for aligned 112x112 faces.");
        return FaceDetector.FromDirectory(dir);
    }
}
