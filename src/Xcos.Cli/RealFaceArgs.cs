using System.CommandLine;
using Xcos.ML.FaceModels;
using Xcos.ML.Verification;

namespace Xcos.Cli;

/// <summary>Options of the real-photo path: the ONNX face model, the xCos variant and where the models are.</summary>
internal sealed class RealFaceArgs
{
    public readonly Option<string> Model = new("--model") { Description = "Face model: fr_feature (default) or a descriptor .json of another ONNX face model", DefaultValueFactory = _ => "fr_feature" };
    public readonly Option<string> Xcos = new("--xcos") { Description = "xCos variant for ONNX models: weights (derived from the model's own affine head; default) or learned (the paper's grid layer + attention trained on the model's cosine: learned_head.onnx next to the descriptor, or --learned-head)", DefaultValueFactory = _ => "weights" };
    public readonly Option<FileInfo?> LearnedHead = new("--learned-head") { Description = "Learned xCos head (.onnx from `xcos train --mode head --onnx-model`) for --xcos learned (default: learned_head.onnx next to the model's descriptor)" };
    public readonly Option<DirectoryInfo?> ModelsDir = new("--models-dir") { Description = "Where `xcos models fetch` put the models (default: $XCOS_MODELS or the user data folder)" };
    public readonly Option<string> Precision = new("--precision") { Description = "ONNX face model: fp32 (default) or int8 (NAME.int8.onnx next to the model, from `xcos export --face-model NAME --precision int8`)", DefaultValueFactory = _ => "fp32" };

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
            throw new CliException("--precision int8 runs an ONNX face model (--model); a --checkpoint runs in fp32 (export it with `xcos export --format onnx --precision int8`).", ExitCodes.Usage);
    }

    public OnnxFacePairVerifier CreateVerifier(ParseResult p, double? threshold, int threads, bool aligned, bool flip = false)
    {
        var variant = p.GetValue(Xcos);
        if (variant is not ("weights" or "learned")) throw new CliException($"--xcos '{variant}': expected weights or learned.", ExitCodes.Usage);
        var head = p.GetValue(LearnedHead);
        if (head is not null && variant != "learned") throw new CliException("--learned-head is used only with --xcos learned.", ExitCodes.Usage);
        return Create(p, new OnnxFacePairVerifierOptions
        {
            Threshold = threshold, IntraOpThreads = threads, Variant = XcosVariantText.ParseOnnx(variant), LearnedHeadPath = head?.FullName,
            AlignedInput = aligned, Precision = ParsePrecision(p), Flip = flip,
        });
    }

    /// <summary>
    /// The fp32 verifier with the weight-derived xCos, for a command that adds only <see cref="Model"/> and
    /// <see cref="ModelsDir"/> (faithfulness explains that xCos and no other).
    /// </summary>
    public OnnxFacePairVerifier CreateWeightsVerifier(ParseResult p, int threads) =>
        Create(p, new OnnxFacePairVerifierOptions { IntraOpThreads = threads, Variant = XcosVariant.Weights });

    // --model and --models-dir complete the options every caller sets
    private OnnxFacePairVerifier Create(ParseResult p, OnnxFacePairVerifierOptions options)
    {
        var model = p.GetValue(Model)!;
        string? descriptor = model == "fr_feature" ? null
            : File.Exists(model) ? model
            : throw new CliException($"--model '{model}': expected fr_feature or an existing descriptor .json file.", ExitCodes.Usage);
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
        var model = p.GetValue(Model)!;
        string path = model == "fr_feature" ? FaceModelDescriptor.ShippedPath()
            : File.Exists(model) ? Path.GetFullPath(model)
            : throw new CliException($"--model '{model}': expected fr_feature or an existing descriptor .json file.", ExitCodes.Usage);
        try { return (FaceModelDescriptor.Load(path), Path.GetDirectoryName(path)!); }
        catch (FileNotFoundException e) { throw new CliException(e.Message); }
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
