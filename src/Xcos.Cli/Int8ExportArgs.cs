using System.CommandLine;
using Google.Protobuf;
using Xcos.Cli.Commands;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.Cli;

/// <summary>`xcos export --precision int8`: options and the two exports (a checkpoint's ONNX models, an ONNX face model).</summary>
internal sealed class Int8ExportArgs
{
    public readonly Option<string> Precision = new("--precision") { Description = "fp32 (default) or int8: also write NAME.int8.onnx, quantized (QDQ) and calibrated on faces", DefaultValueFactory = _ => "fp32" };
    public readonly Option<string?> FaceModel = new("--face-model") { Description = "Quantize an ONNX face model (fr_feature or a descriptor .json) instead of a checkpoint; needs --precision int8 and --calibration" };
    public readonly Option<DirectoryInfo?> Calibration = new("--calibration") { Description = "int8: folder of calibration photos (searched recursively, sorted by path). --face-model: raw photos, aligned by the detector; checkpoint: aligned 112x112 faces (default: synthetic faces)" };
    public readonly Option<int> CalibrationCount = new("--calibration-count") { Description = "int8: faces to calibrate on (default 64)", DefaultValueFactory = _ => 64 };
    // export's --models-dir is RealFaceArgs' (the photo pipeline reads it too): one option, so --help lists it once
    // and both paths see the value.
    public readonly Option<DirectoryInfo?> ModelsDir;

    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".webp"];

    /// <summary>The options of int8 export; <paramref name="modelsDir"/> is the command's --models-dir, added by its owner.</summary>
    public Int8ExportArgs(Option<DirectoryInfo?> modelsDir) => ModelsDir = modelsDir;

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Precision, FaceModel, Calibration, CalibrationCount }) command.Options.Add(o);
    }

    public bool IsInt8(ParseResult p)
    {
        var precision = p.GetValue(Precision);
        if (precision is not ("fp32" or "int8")) throw new CliException($"--precision '{precision}': expected fp32 or int8.", ExitCodes.Usage);
        if (p.GetValue(CalibrationCount) < 1) throw new CliException("--calibration-count must be at least 1.", ExitCodes.Usage);
        return precision == "int8";
    }

    /// <summary>
    /// Quantizes the checkpoint's embedding model (on faces) and pair head (on the grids of those faces): the int8 files
    /// to write next to <paramref name="embeddingPath"/> and <paramref name="headPath"/>, in memory, so the caller writes
    /// all or nothing.
    /// </summary>
    public (string Path, byte[] Bytes)[] QuantizeCheckpoint(ParseResult p, ModelProto embedding, ModelProto head, string embeddingPath, string headPath)
    {
        var (faces, description) = CheckpointFaces(p);
        var feeds = FaceModelQuantizer.Feeds(faces, XcosOnnxExport.ImageInput, new FaceTensorOptions());
        var q = Quantize(embedding, feeds, description, embeddingPath);
        // The pair head sees grids: each face's grid paired with the next face's.
        var emb = OnnxModelFile.FromModel(embedding);
        var headFeeds = new List<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>>();
        foreach (var feed in feeds)
        {
            var grid = emb.Run(feed, XcosOnnxExport.GridOutput)[XcosOnnxExport.GridOutput];
            int n = (int)grid.Shape[0], per = grid.Data.Length / n;
            var next = new float[grid.Data.Length];
            for (int i = 0; i < n; i++) Array.Copy(grid.Data, (i + 1) % n * per, next, i * per, per);
            headFeeds.Add(new Dictionary<string, (float[], long[])> { [XcosOnnxExport.Grid1Input] = grid, [XcosOnnxExport.Grid2Input] = (next, grid.Shape) });
        }
        var qh = Quantize(head, headFeeds, "grids of " + description, headPath);
        return [(OnnxFaceEmbedder.Int8Path(embeddingPath), q.ToByteArray()), (OnnxFaceEmbedder.Int8Path(headPath), qh.ToByteArray())];
    }

    /// <summary>Quantizes an ONNX face model on raw photos aligned by the detector; writes NAME.int8.onnx into <paramref name="outDir"/>.</summary>
    public string[] ExportFaceModel(ParseResult p, string outDir)
    {
        if (!IsInt8(p)) throw new CliException("--face-model exports only the int8 form: add --precision int8.", ExitCodes.Usage);
        var dir = p.GetValue(Calibration) ?? throw new CliException("--face-model needs --calibration: a folder of photos with faces (e.g. ../shared/dev-faces/photos).", ExitCodes.Usage);
        var model = p.GetValue(FaceModel)!;
        string descriptorPath = RealFaceArgs.ResolveModel(model, "--face-model");
        var modelsDir = ModelStore.ResolveDirectory(p.GetValue(ModelsDir)?.FullName);
        if (!ModelStore.IsComplete(modelsDir)) throw new CliException($"calibration photos need face detection, but the models are not in {modelsDir}: run `xcos models fetch`.");
        try
        {
            var descriptor = FaceModelDescriptor.Load(descriptorPath);
            string onnx;
            try { onnx = descriptor.OnnxPath(modelsDir, descriptorPath); }
            catch (FileNotFoundException e) { throw new CliException(e.Message); }
            int want = p.GetValue(CalibrationCount);
            var faces = new List<RgbImage>();
            var used = new List<string>();
            using (var detector = FaceDetector.FromDirectory(modelsDir))
                foreach (var file in Images(dir))
                {
                    if (faces.Count == want) break;
                    RgbImage photo;
                    try { photo = ImageIO.Load(file); }
                    catch (InvalidDataException e) { throw new CliException($"{file}: {e.Message}"); }
                    if (detector.DetectAndAlign(photo).Face is { } face) { faces.Add(face); used.Add(Path.GetRelativePath(dir.FullName, file)); }
                }
            if (faces.Count == 0) throw new CliException($"{dir.FullName}: no photo with a detectable face to calibrate on.");
            string description = $"{faces.Count} faces detected and aligned from {dir.FullName}: {string.Join(", ", used)}";
            var result = FaceModelQuantizer.Quantize(descriptor, onnx, faces, description);
            Directory.CreateDirectory(outDir);
            var target = Path.Combine(outDir, Path.GetFileName(OnnxFaceEmbedder.Int8Path(onnx)));
            ExportCommand.WriteAtomic(target, result.Model.ToByteArray());
            Console.Error.WriteLine($"int8: {result.QuantizedNodes.Count} nodes quantized, calibrated on {faces.Count} faces");
            return [target];
        }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
    }

    private (IReadOnlyList<RgbImage> Faces, string Description) CheckpointFaces(ParseResult p)
    {
        int want = p.GetValue(CalibrationCount);
        if (p.GetValue(Calibration) is not { } dir)
        {
            return (FaceModelQuantizer.SyntheticFaces(want), FaceModelQuantizer.SyntheticDescription(want));
        }
        var files = Images(dir).Take(want).ToList();
        var faces = new List<RgbImage>();
        foreach (var f in files)
        {
            RgbImage img;
            try { img = ImageIO.Load(f); }
            catch (InvalidDataException e) { throw new CliException($"{f}: {e.Message}"); }
            if (img.Width != 112 || img.Height != 112) throw new CliException($"{f}: {img.Width}x{img.Height}; a checkpoint calibrates on aligned 112x112 faces.");
            faces.Add(img);
        }
        if (faces.Count == 0) throw new CliException($"{dir.FullName}: no images to calibrate on.");
        return (faces, $"{faces.Count} aligned faces from {dir.FullName}: {string.Join(", ", files.Select(f => Path.GetRelativePath(dir.FullName, f)))}");
    }

    private static IEnumerable<string> Images(DirectoryInfo dir)
    {
        if (!dir.Exists) throw new CliException($"{dir.FullName}: calibration folder not found.");
        return Directory.EnumerateFiles(dir.FullName, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal);
    }

    private static ModelProto Quantize(ModelProto model, IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> feeds, string description, string path)
    {
        try { return OnnxQuantizer.Quantize(model, feeds, new OnnxQuantizerOptions { CalibrationDescription = description }).Model; }
        catch (InvalidDataException e) { throw new CliException($"{path}: cannot quantize: {e.Message}"); }
    }
}
