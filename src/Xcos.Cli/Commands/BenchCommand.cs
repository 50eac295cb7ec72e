using System.CommandLine;
using Xcos.ML.Torch.Benchmarks;

namespace Xcos.Cli.Commands;

/// <summary>`xcos bench`: the project's side of the comparison with the PyTorch peer (same key names).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "libtorch threads", DefaultValueFactory = _ => 2 };
        var seconds = new Option<double>("--seconds") { Description = "Timed seconds per measurement", DefaultValueFactory = _ => 20 };
        var depth = new Option<int>("--depth") { Description = "IResNet depth preset", DefaultValueFactory = _ => 50 };
        var only = new Option<string>("--only") { Description = "Subset of embed,head,train", DefaultValueFactory = _ => "embed,head,train" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("bench", "Measure embedding, xCos head and training throughput (compare with shared/peer/bench_torch.py)");
        foreach (var o in new Option[] { threads, seconds, depth, only, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var opts = new XcosBenchmarkOptions { Threads = p.GetValue(threads), Seconds = p.GetValue(seconds), Depth = p.GetValue(depth), Only = p.GetValue(only)! };
            if (opts.Threads < 1 || opts.Seconds <= 0) throw new CliException("--threads must be >= 1 and --seconds > 0.", ExitCodes.Usage);
            var r = XcosBenchmark.Run(opts, msg => Console.Error.WriteLine("bench " + msg));
            if (p.GetValue(json)) Cli.WriteJson(r);
            else
            {
                Console.WriteLine($"embed_images_per_s            {r.EmbedImagesPerSecond:F2}");
                Console.WriteLine($"embed_images_per_s_onnx       {r.EmbedImagesPerSecondOnnx:F2}");
                Console.WriteLine($"embed_images_per_s_onnx_int8  {r.EmbedImagesPerSecondOnnxInt8:F2}");
                Console.WriteLine($"head_pairs_per_s              {r.HeadPairsPerSecond:F0}");
                Console.WriteLine($"head_pairs_per_s_cached_faces {r.HeadPairsPerSecondCachedFaces:F0}");
                Console.WriteLine($"train_pairs_per_s             {r.TrainPairsPerSecond:F3}");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
