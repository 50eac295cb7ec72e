using System.CommandLine;
using Google.Protobuf;
using Microsoft.ML;
using Xcos.ML.Data;
using Xcos.ML.Heads;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos export`: a trained checkpoint as ONNX (embedding model + pair head) or as a whole ML.NET pipeline .zip
/// that scores image pairs without TorchSharp; without --checkpoint, `--format mlnet` writes the raw-photo pipeline of
/// an ONNX face model (detector, landmarks, face model and its xCos in one .zip).
/// </summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new ModelArgs();
        var real = new RealFaceArgs();
        var format = new Option<string>("--format") { Description = "onnx (two models in --out DIR) or mlnet (one .zip at --out FILE)", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder (onnx) or .zip file (mlnet)", Required = true };
        var threshold = new Option<float?>("--threshold") { Description = "mlnet: decision threshold on the xCos score" };
        var pairs = new Option<FileInfo?>("--pairs") { Description = "mlnet: labelled pair TSV/pairs.txt to choose the threshold from (aligned faces for a checkpoint, photos for a face model)" };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Folder the pair file's paths are relative to" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var int8 = new Int8ExportArgs(real.ModelsDir);
        var cmd = new Command("export", "Export a checkpoint as ONNX models or as an ML.NET pipeline .zip, or an ONNX face model in int8");
        model.AddTo(cmd);
        real.AddTo(cmd, withPrecision: false);
        foreach (var o in new Option[] { format, output, threshold, pairs, root, json }) cmd.Options.Add(o);
        int8.AddTo(cmd);
        // checked while parsing, so a hint that gets this wrong fails the hint test, not the user
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(int8.Precision) == "int8" && r.GetValue(model.Checkpoint) is null && r.GetValue(int8.FaceModel) is null)
                r.AddError("--precision int8 quantizes a --checkpoint, or the ONNX face model named by --face-model (not --model).");
        });
        cmd.SetAction(p =>
        {
            var fmt = p.GetValue(format);
            if (fmt is not ("onnx" or "mlnet")) throw new CliException($"--format '{fmt}': expected onnx or mlnet.", ExitCodes.Usage);
            bool quantize = int8.IsInt8(p);
            if (quantize && fmt != "onnx") throw new CliException("--precision int8 is written as ONNX: use --format onnx.", ExitCodes.Usage);
            if (p.GetValue(int8.FaceModel) is not null)
            {
                var files = int8.ExportFaceModel(p, Path.GetFullPath(p.GetValue(output)!));
                if (p.GetValue(json)) Cli.WriteJson(new { format = fmt, precision = "int8", files });
                else foreach (var w in files) Console.WriteLine($"wrote {w}");
                return ExitCodes.Ok;
            }
            if (p.GetValue(model.Checkpoint) is null)
            {
                if (fmt != "mlnet") throw new CliException("--format onnx exports a checkpoint: give --checkpoint (a face model is ONNX already).", ExitCodes.Usage);
                var zip = ExportPhotoPipeline(p, real, Path.GetFullPath(p.GetValue(output)!), p.GetValue(threshold), p.GetValue(pairs), p.GetValue(root));
                if (p.GetValue(json)) Cli.WriteJson(new { format = fmt, files = new[] { zip } });
                else Console.WriteLine($"wrote {zip}");
                return ExitCodes.Ok;
            }
            var (m, _) = model.Load(p);
            using var _m = m;
            var weights = TorchOnnxExport.ToWeights(m);
            var outPath = Path.GetFullPath(p.GetValue(output)!);
            string[] written;
            if (fmt == "onnx")
            {
                var embedding = Path.Combine(outPath, "xcos_embedding.onnx");
                var head = Path.Combine(outPath, "xcos_pair_head.onnx");
                var embeddingModel = XcosOnnxExport.BuildEmbeddingModel(weights);
                var headModel = XcosOnnxExport.BuildPairHeadModel(weights);
                (string Path, byte[] Bytes)[] files = [(embedding, embeddingModel.ToByteArray()), (head, headModel.ToByteArray())];
                // calibration (which can fail on its faces) runs before anything is written: all files or none
                if (quantize) files = [.. files, .. int8.QuantizeCheckpoint(p, embeddingModel, headModel, embedding, head)];
                Directory.CreateDirectory(outPath);
                WriteAll(files);
                written = [.. files.Select(f => f.Path)];
            }
            else
            {
                if (p.GetValue(threshold) is null && p.GetValue(pairs) is null)
                    throw new CliException("--format mlnet needs --threshold, or --pairs with labelled aligned pairs to choose it from.", ExitCodes.Usage);
                var ml = new MLContext(seed: 0);
                var rows = new List<FacePairInput>();
                if (p.GetValue(pairs) is { } file)
                {
                    var set = PairSetReader.Load(file.FullName, p.GetValue(root)?.FullName);
                    if (set.ImageRoot is null) throw new CliException($"{file.FullName}: --format mlnet needs image files (a TSV or pairs.txt), not a .bin.");
                    var lm = FacePairInput.AlignedLandmarks();
                    rows.AddRange(set.Pairs.Select(q => new FacePairInput
                    {
                        ImagePath1 = set.ImagePath(q.Id1)!, ImagePath2 = set.ImagePath(q.Id2)!, Landmarks1 = lm, Landmarks2 = lm, Label = q.Same,
                    }));
                }
                var data = ml.Data.LoadFromEnumerable(rows);
                var fitted = XcosPipeline.Create(ml.Transforms, new XcosPipelineOptions { Weights = weights, Threshold = p.GetValue(threshold) }).Fit(data);
                if (!outPath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)) throw new CliException($"--out '{outPath}': an ML.NET model is a .zip file.", ExitCodes.Usage);
                Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
                var tmp = outPath + ".tmp";
                XcosModelArchive.Save(ml, fitted, data.Schema, tmp);
                File.Move(tmp, outPath, overwrite: true);
                written = [outPath];
            }
            if (p.GetValue(json)) Cli.WriteJson(new { format = fmt, files = written });
            else foreach (var w in written) Console.WriteLine($"wrote {w}");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    // The raw-photo pipeline of an ONNX face model; the threshold is given, chosen on labelled photo pairs, or the descriptor's.
    private static string ExportPhotoPipeline(ParseResult p, RealFaceArgs real, string outPath, float? threshold, FileInfo? pairs, DirectoryInfo? root)
    {
        if (!outPath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)) throw new CliException($"--out '{outPath}': an ML.NET model is a .zip file.", ExitCodes.Usage);
        var (descriptor, descriptorDir) = real.Descriptor(p);
        var variant = XcosVariantText.ParseOnnx(RealFaceArgs.VariantOf(p.GetValue(real.Xcos), () => descriptor));
        var ml = new MLContext(seed: 0);
        var rows = new List<PhotoPairRow>();
        if (pairs is not null)
        {
            var set = PairSetReader.Load(pairs.FullName, root?.FullName);
            if (set.ImageRoot is null) throw new CliException($"{pairs.FullName}: --format mlnet needs image files (a TSV or pairs.txt), not a .bin.");
            rows.AddRange(set.Pairs.Select(q => new PhotoPairRow { ImagePath1 = set.ImagePath(q.Id1)!, ImagePath2 = set.ImagePath(q.Id2)!, Label = q.Same }));
        }
        IDataView data = pairs is null ? ml.Data.LoadFromEnumerable(new[] { new PhotoPathRow() }) : ml.Data.LoadFromEnumerable(rows);
        var fitted = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
        {
            FaceModel = descriptor, FaceModelDirectory = descriptorDir, ModelsDirectory = p.GetValue(real.ModelsDir)?.FullName,
            Xcos = variant, LearnedHeadPath = p.GetValue(real.LearnedHead)?.FullName, Threshold = threshold,
        }).Fit(data);
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        var tmp = outPath + ".tmp";
        XcosModelArchive.Save(ml, fitted, data.Schema, tmp);
        File.Move(tmp, outPath, overwrite: true);
        return outPath;
    }

    private sealed class PhotoPairRow
    {
        public string ImagePath1 { get; set; } = "";
        public string ImagePath2 { get; set; } = "";
        public bool Label { get; set; }
    }

    // Without labels the pipeline's input is two paths.
    private sealed class PhotoPathRow
    {
        public string ImagePath1 { get; set; } = "";
        public string ImagePath2 { get; set; } = "";
    }

    // temp file then rename: a failed export never leaves a half-written model where a good one was
    internal static void WriteAtomic(string path, byte[] bytes) => WriteAll([(path, bytes)]);

    /// <summary>Writes every file to a temporary name first and renames them only once all are written; a failure leaves none of them.</summary>
    internal static void WriteAll(IReadOnlyList<(string Path, byte[] Bytes)> files)
    {
        var temps = new List<string>();
        try
        {
            foreach (var (path, bytes) in files)
            {
                var tmp = path + ".tmp";
                temps.Add(tmp);
                File.WriteAllBytes(tmp, bytes);
            }
        }
        catch
        {
            foreach (var t in temps) File.Delete(t);
            throw;
        }
        foreach (var (path, _) in files) File.Move(path + ".tmp", path, overwrite: true);
    }
}
