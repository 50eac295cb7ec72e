using System.CommandLine;
using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.Heads;
using Xcos.ML.Torch;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Gallery;
using Xcos.ML.Verification;

namespace Xcos.Cli;

/// <summary>Options shared by `enroll` and `identify`: the gallery (a file or a database) and the face model that encodes photos for it.</summary>
internal sealed class GalleryArgs
{
    public readonly Option<string?> Gallery = new("--gallery")
    {
        Description = "Gallery: a file, or postgresql://USER@HOST:PORT/DB?table=NAME (password from PGPASSWORD or ~/.pgpass); created by `xcos enroll` when missing. Default: $XCOS_GALLERY",
    };
    public readonly Option<string> Model = new("--model") { Description = "Face model: fr_feature (default), another shipped model (fr_feature_xcos) or a descriptor .json of an ONNX face model", DefaultValueFactory = _ => "fr_feature" };
    public readonly Option<FileInfo?> Checkpoint = new("--checkpoint") { Description = "Use a TorchSharp xCos checkpoint as the face model instead of an ONNX model" };
    public readonly Option<DirectoryInfo?> ModelsDir = new("--models-dir") { Description = "Where `xcos models fetch` put the models (default: $XCOS_MODELS or the user data folder)" };
    public readonly Option<bool> Aligned = new("--aligned") { Description = "Photos are aligned 112x112 faces (no detection)" };
    public readonly Option<string> Index = new("--index") { Description = "Vector index: auto (exact below 20,000 faces, HNSW above), exact or hnsw", DefaultValueFactory = _ => "auto" };
    public readonly Option<double?> Recall = new("--recall") { Description = "recall@10 an HNSW index's search expansion is calibrated for (default 0.99; the calibration is kept next to the graph)" };
    public readonly Option<int?> Threads = new("--threads") { Description = "Inference threads (default: the runtime's choice)" };
    public readonly Option<string?> Xcos = new("--xcos") { Description = "xCos that explains and re-ranks matches (ONNX models): weights (derived from the model's affine head) or learned (the learned head; the gallery then stores each face's feature map). A gallery is searched with the variant it was enrolled with. Default: learned for a model whose descriptor decides by xCos, else weights" };
    public readonly Option<FileInfo?> LearnedHead = new("--learned-head") { Description = "Learned xCos head for --xcos learned (default: learned_head.onnx next to the model's descriptor)" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Gallery, Model, Checkpoint, ModelsDir, Aligned, Index, Recall, Threads, Xcos, LearnedHead }) command.Options.Add(o);
    }

    /// <summary>The gallery the user named: --gallery, else $XCOS_GALLERY.</summary>
    public string Location(ParseResult p) => p.GetValue(Gallery) is { Length: > 0 } g ? g
        : FaceGalleries.FromEnvironment() ?? throw new CliException($"name a gallery: --gallery FILE or --gallery postgresql://USER@HOST:PORT/DB?table=NAME (or set {FaceGalleries.EnvironmentVariable}).", ExitCodes.Usage);

    /// <summary>Opens the named gallery (file or database) for <paramref name="model"/>; FaceGalleries is the one factory every entry point shares.</summary>
    public IFaceGallery OpenGallery(ParseResult p, GalleryModelStamp model, GalleryOpenMode mode) =>
        FaceGalleries.Open(Location(p), model, mode, GalleryOptions(p, readOnly: mode == GalleryOpenMode.ReadOnly));

    public FaceGalleryOptions GalleryOptions(ParseResult p, bool readOnly) => new()
    {
        ReadOnly = readOnly,
        Recall = p.GetValue(Recall) is { } r
            ? r > 0 && r <= 1 ? r : throw new CliException($"--recall {r}: expected a recall in (0, 1], e.g. 0.99.", ExitCodes.Usage)
            : null,
        Index = p.GetValue(Index) switch
        {
            "auto" => GalleryIndexKind.Auto,
            "exact" => GalleryIndexKind.Exact,
            "hnsw" => GalleryIndexKind.Hnsw,
            var v => throw new CliException($"--index '{v}': expected auto, exact or hnsw.", ExitCodes.Usage),
        },
    };

    /// <summary>The encoder: the ONNX model named by --model, or the checkpoint of --checkpoint (with a detector unless --aligned).</summary>
    public IFaceEncoder CreateEncoder(ParseResult p, double? threshold = null)
    {
        bool aligned = p.GetValue(Aligned);
        int threads = p.GetValue(Threads) ?? 0;
        var modelsDir = p.GetValue(ModelsDir)?.FullName;
        try
        {
            if (p.GetValue(Checkpoint) is { } ckpt)
            {
                if (p.GetValue(Xcos) is not null || p.GetValue(LearnedHead) is not null)
                    throw new CliException("--xcos and --learned-head choose the xCos of an ONNX face model; a --checkpoint has its own.", ExitCodes.Usage);
                if (!ckpt.Exists) throw new CliException($"{ckpt.FullName}: checkpoint not found.");
                TorchRuntime.Configure(p.GetValue(Threads), "cpu");
                FaceDetector? detector = null;
                if (!aligned)
                {
                    var dir = ModelStore.ResolveDirectory(modelsDir);
                    if (!ModelStore.IsComplete(dir))
                        throw new CliException($"photos need face detection, but the models are not in {dir}: run `xcos models fetch`, or pass --aligned for aligned 112x112 faces.");
                    detector = FaceDetector.FromDirectory(dir, new FaceDetectorOptions { IntraOpThreads = threads });
                }
                try { return new TorchFaceEncoder(XcosModelLoader.Load(ckpt.FullName), ckpt.FullName, detector, threshold); }
                catch (CheckpointException e) { detector?.Dispose(); throw new CliException(e.Message); }
            }
            string descriptor = RealFaceArgs.ResolveModel(p.GetValue(Model)!, "--model");
            var variant = RealFaceArgs.VariantOf(p.GetValue(Xcos), () => FaceModelDescriptor.Load(descriptor));
            var head = p.GetValue(LearnedHead);
            if (head is not null && variant != "learned") throw new CliException("--learned-head is used only with --xcos learned.", ExitCodes.Usage);
            return new OnnxFaceEncoder(modelsDir, descriptor, threads, needDetector: !aligned, XcosVariantText.ParseOnnx(variant), head?.FullName);
        }
        catch (FileNotFoundException e) { throw new CliException(e.Message); }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
    }
}
