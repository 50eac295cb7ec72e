using System.CommandLine;
using Xcos.Cli.Benchmarks;

namespace Xcos.Cli.Commands;

/// <summary>`xcos bench`: the project's side of the comparison with the PyTorch peer (same key names).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "libtorch threads", DefaultValueFactory = _ => 2 };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds per measurement", DefaultValueFactory = _ => 20 };
        var depth = new Option<int>("--depth") { Description = "IResNet depth preset", DefaultValueFactory = _ => 50 };
        var only = new Option<string>("--only") { Description = "Subset of embed,head,train,face (face: the shipped ONNX face model, needs the models)", DefaultValueFactory = _ => "embed,head,train" };
        var device = new Option<string>("--device") { Description = "cpu | cuda | cuda:N | auto: libtorch's device; with cuda the ONNX Runtime sessions use its CUDA execution provider (a build with -p:XcosOnnxBackend=cuda)", DefaultValueFactory = _ => "cpu" };
        var modelsDir = new Option<DirectoryInfo?>("--models-dir") { Description = "Models folder for --only face (default: $XCOS_MODELS or the user data folder)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("bench", "Measure embedding, xCos head and training throughput (compare with shared/peer/bench_torch.py)");
        foreach (var o in new Option[] { threads, seconds, depth, only, device, modelsDir, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var opts = new XcosBenchmarkOptions
            {
                Threads = p.GetValue(threads), Seconds = p.GetValue(seconds), Depth = p.GetValue(depth), Only = p.GetValue(only)!,
                Device = p.GetValue(device)!, ModelsDir = p.GetValue(modelsDir)?.FullName,
            };
            if (opts.Threads < 1 || opts.Seconds <= 0) throw new CliException("--threads must be >= 1 and --seconds > 0.", ExitCodes.Usage);
            XcosBenchmarkResult r;
            try { r = XcosBenchmark.Run(opts, msg => Console.Error.WriteLine("bench " + msg)); }
            catch (InvalidOperationException e) when (opts.Device != "cpu")
            {
                throw new CliException($"{e.Message} A CUDA build: -p:XcosTorchBackend=cuda (libtorch) and -p:XcosOnnxBackend=cuda (ONNX Runtime); scripts/gpu-check.sh does both.");
            }
            catch (FileNotFoundException e) { throw new CliException(e.Message + " (--only face needs `xcos models fetch`)"); }
            if (p.GetValue(json)) Cli.WriteJson(r);
            else
            {
                Console.WriteLine($"device                        {r.Device}");
                Console.WriteLine($"embed_images_per_s            {r.EmbedImagesPerSecond:F2}");
                Console.WriteLine($"embed_images_per_s_onnx       {r.EmbedImagesPerSecondOnnx:F2}");
                Console.WriteLine($"embed_images_per_s_onnx_int8  {r.EmbedImagesPerSecondOnnxInt8:F2}");
                Console.WriteLine($"head_pairs_per_s              {r.HeadPairsPerSecond:F0}");
                Console.WriteLine($"head_pairs_per_s_cached_faces {r.HeadPairsPerSecondCachedFaces:F0}");
                Console.WriteLine($"train_pairs_per_s             {r.TrainPairsPerSecond:F3}");
                if (r.FaceImagesPerSecondOnnx is { } face) Console.WriteLine($"face_images_per_s_onnx        {face:F2}");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
