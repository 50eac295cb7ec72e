using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;

namespace Xcos.Cli.Commands;

/// <summary>`xcos inspect FILE`: what a checkpoint (.pth), ONNX model or ML.NET .zip holds and what input it expects.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "A checkpoint (.pth/.ckpt), an ONNX model (.onnx) or an ML.NET model (.zip)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("inspect", "Show a model's architecture, parameters and expected input") { file };
        cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            var f = p.GetValue(file)!;
            if (Directory.Exists(f.FullName)) throw new CliException($"{f.FullName}: is a directory; expected a model file (.pth/.ckpt, .onnx or .zip).");
            if (!f.Exists) throw new CliException($"{f.FullName}: file not found.");
            var info = f.Extension.ToLowerInvariant() switch
            {
                ".onnx" => Onnx(f.FullName),
                ".zip" when IsTorchZip(f.FullName) => Checkpoint(f.FullName),
                ".zip" => MlNet(f.FullName),
                ".pth" or ".pt" or ".ckpt" => Checkpoint(f.FullName),
                _ when LooksLikeTorchSave(f.FullName) => Checkpoint(f.FullName),
                _ => throw new CliException($"{f.FullName}: not a model file by its name; expected a checkpoint (.pth/.pt/.ckpt), an ONNX model (.onnx) or an ML.NET model (.zip)."),
            };
            if (p.GetValue(json)) Cli.WriteJson(info);
            else foreach (var (k, v) in info) Console.WriteLine($"{k,-22} {Format(v)}");
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static Dictionary<string, object?> Checkpoint(string path)
    {
        Xcos.ML.Torch.TorchRuntime.Configure(1);
        XcosModel model;
        try { model = XcosModelLoader.Load(path); }
        catch (CheckpointException e) { throw new CliException(e.Message); }
        using var _ = model;
        var o = model.Options;
        return new()
        {
            ["kind"] = "xcos checkpoint",
            ["path"] = path,
            ["arch"] = o.Arch,
            ["stages"] = o.ResolvedStages(),
            ["grid_channels"] = o.GridChannels,
            ["target_arch"] = o.TargetArch,
            ["parameters"] = Complexity.CountParameters(model),
            ["backbone_parameters"] = Complexity.CountParameters(model.Backbone),
            ["backbone_gmacs"] = Math.Round(Complexity.CountMacs(model.Backbone, BackboneHead.Grid) / 1e9, 3),
            ["input"] = "float32 [N,3,112,112], RGB, (x/255 - 0.5)/0.5, faces aligned to the ArcFace 112x112 template",
            ["outputs"] = "grid [N,32,7,7], xCos score, 7x7 patch cosine and attention maps" + (o.TargetArch is null ? "" : ", target embedding [N,512]"),
        };
    }

    private static Dictionary<string, object?> Onnx(string path)
    {
        var m = OnnxModelFile.Load(path);
        var values = m.ListValues();
        string Shape(string name) => values.FirstOrDefault(v => v.Name == name)?.Shape is { } s ? "[" + string.Join(",", s.Select(d => d < 0 ? "N" : d.ToString(CultureInfo.InvariantCulture))) + "]" : "?";
        var map = m.FindLastFeatureMap();
        return new()
        {
            ["kind"] = "onnx model",
            ["path"] = path,
            ["opset"] = string.Join(",", m.Model.OpsetImport.Select(o => $"{(o.Domain == "" ? "ai.onnx" : o.Domain)}:{o.Version}")),
            ["nodes"] = m.Graph.Node.Count,
            ["parameters"] = m.ReadFloatInitializers().Values.Sum(t => (long)t.Data.Length),
            ["inputs"] = m.InputNames.Select(n => $"{n} {Shape(n)}").ToArray(),
            ["outputs"] = m.OutputNames.Select(n => $"{n} {Shape(n)}").ToArray(),
            ["last_7x7_map"] = map is null ? null : $"{map.Name} [{string.Join(",", map.Shape ?? [])}] ({map.ProducerOpType})",
            ["metadata"] = m.Model.MetadataProps.ToDictionary(kv => kv.Key, kv => kv.Value),
        };
    }

    private static Dictionary<string, object?> MlNet(string path)
    {
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
        ITransformer model;
        DataViewSchema input;
        try { model = XcosModelArchive.Load(ml, path, out input); }
        catch (InvalidDataException e) when (e.Message.StartsWith(path, StringComparison.Ordinal)) { throw new CliException(e.Message); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // ML.NET reports a cut or foreign .zip with many exception types (format, EndOfStream, missing loaders)
            throw new CliException($"{path}: not a loadable ML.NET model ({e.Message.ReplaceLineEndings(" ")}).");
        }
        // ML.NET writes each ONNX stage's model to a temporary file that only Dispose deletes
        using var owned = model as IDisposable;
        var output = model.GetOutputSchema(input);
        return new()
        {
            ["kind"] = "ml.net model",
            ["path"] = path,
            ["input_columns"] = input.Select(c => $"{c.Name}: {c.Type}").ToArray(),
            ["output_columns"] = output.Where(c => !c.IsHidden).Select(c => $"{c.Name}: {c.Type}").ToArray(),
        };
    }

    // torch.save writes a zip (new format) or a pickle stream that opens with the PROTO opcode (legacy format)
    private static bool LooksLikeTorchSave(string path)
    {
        using var s = File.OpenRead(path);
        Span<byte> head = stackalloc byte[2];
        return s.ReadAtLeast(head, 2, throwOnEndOfStream: false) == 2 && (head is [(byte)'P', (byte)'K'] || head[0] == 0x80);
    }

    // torch.save writes a zip too: its entries end in data.pkl
    private static bool IsTorchZip(string path)
    {
        try
        {
            using var zip = System.IO.Compression.ZipFile.OpenRead(path);
            return zip.Entries.Any(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal));
        }
        catch (InvalidDataException e) { throw new CliException($"{path}: not a zip archive, so neither an ML.NET model nor a torch.save checkpoint ({e.Message})."); }
    }

    private static string Format(object? v) => v switch
    {
        null => "-",
        string s => s,
        System.Collections.IDictionary d => string.Join(", ", d.Keys.Cast<object>().Select(k => $"{k}={d[k]}")),
        System.Collections.IEnumerable e => string.Join(", ", e.Cast<object>()),
        _ => v.ToString() ?? "",
    };
}
