using System.Diagnostics;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Torch;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

namespace Xcos.Cli.Benchmarks;

/// <summary>What to measure; the defaults are those of the PyTorch peer (shared/peer/bench_torch.py).</summary>
public sealed record XcosBenchmarkOptions
{
    /// <summary>libtorch intra-op threads.</summary>
    public int Threads { get; init; } = 2;
    /// <summary>Seconds of timed work per measurement (after one warm-up call).</summary>
    public double Seconds { get; init; } = 20;
    /// <summary>IResNet depth preset of the backbones.</summary>
    public int Depth { get; init; } = 50;
    /// <summary>Embedding batch; the training step uses half of it as pairs.</summary>
    public int Batch { get; init; } = 32;
    /// <summary>Cached grid pairs scored per head call.</summary>
    public int HeadPairs { get; init; } = 4096;
    /// <summary>Comma-separated subset of embed, head, train and face (the shipped ONNX face model, fr_feature).</summary>
    public string Only { get; init; } = "embed,head,train";
    /// <summary>
    /// cpu, cuda, cuda:N or auto: where libtorch runs, and for cuda the ONNX Runtime sessions too (its CUDA execution
    /// provider, in a build with <c>-p:XcosOnnxBackend=cuda</c>).
    /// </summary>
    public string Device { get; init; } = "cpu";
    /// <summary>Models folder of the "face" measurement (null: $XCOS_MODELS or the user data folder).</summary>
    public string? ModelsDir { get; init; }
}

/// <summary>Rates in the peer's key names, plus the head with per-face work cached (gallery scoring).</summary>
public sealed record XcosBenchmarkResult
{
    /// <summary>TorchSharp package version that ran the benchmark.</summary>
    [JsonPropertyName("torchsharp")] public string TorchSharp { get; init; } = "";
    /// <summary>libtorch intra-op threads used (<see cref="XcosBenchmarkOptions.Threads"/>).</summary>
    public int Threads { get; init; }
    /// <summary>IR-SE backbone depth measured (50 for IR-SE-50).</summary>
    public int Depth { get; init; }
    /// <summary>Where it ran: libtorch's device, and ONNX Runtime's execution provider.</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>The shipped ONNX face model (fr_feature, made batch-dynamic) at the benchmark's batch, fp32.</summary>
    [JsonPropertyName("face_images_per_s_onnx")] public double? FaceImagesPerSecondOnnx { get; init; }
    /// <summary>IR-SE-50 grid backbone, batch 32, eval, no grad.</summary>
    [JsonPropertyName("embed_images_per_s")] public double? EmbedImagesPerSecond { get; init; }
    /// <summary>The same grid backbone exported to ONNX (BatchNorm folded) and run by ONNX Runtime: the deployed path.</summary>
    [JsonPropertyName("embed_images_per_s_onnx")] public double? EmbedImagesPerSecondOnnx { get; init; }
    /// <summary>The exported backbone quantized to int8 (QDQ, <see cref="OnnxQuantizer"/>) and run by ONNX Runtime.</summary>
    [JsonPropertyName("embed_images_per_s_onnx_int8")] public double? EmbedImagesPerSecondOnnxInt8 { get; init; }
    /// <summary>xCos head over cached grids, all per-face work included in every call (the peer's measurement).</summary>
    [JsonPropertyName("head_pairs_per_s")] public double? HeadPairsPerSecond { get; init; }
    /// <summary>xCos head when each face's code is computed once and reused (a face scored against a gallery).</summary>
    [JsonPropertyName("head_pairs_per_s_cached_faces")] public double? HeadPairsPerSecondCachedFaces { get; init; }
    /// <summary>Full xCos training step (two grid passes + ArcFace over 1000 classes + attention + frozen target), batch 16 pairs.</summary>
    [JsonPropertyName("train_pairs_per_s")] public double? TrainPairsPerSecond { get; init; }
    /// <summary>Whether the training step ran with freed host memory kept for reuse (<see cref="HostMemory.RetainFreedMemory"/>), as XcosTrainer runs.</summary>
    public bool? TrainHostMemoryRetained { get; init; }
}

/// <summary>The project's side of the speed comparison with the PyTorch peer; each rate is measured as the peer measures it.</summary>
public static class XcosBenchmark
{
    /// <summary>Runs the selected measurements; <paramref name="log"/> hears each one as it starts.</summary>
    public static XcosBenchmarkResult Run(XcosBenchmarkOptions options, Action<string>? log = null)
    {
        var only = options.Only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        // libtorch's device only where a libtorch measurement runs: `--only face` needs no CUDA build of libtorch
        var device = only.Overlaps(["embed", "head", "train"]) ? TorchRuntime.Configure(options.Threads, options.Device) : TorchRuntime.Configure(options.Threads, "cpu");
        bool cuda = device.type == DeviceType.CUDA;
        // ONNX Runtime on the same GPU: its CUDA execution provider, or a clear error where this build lacks it
        int? gpu = OnnxDevice(options.Device, device) is { } index ? OnnxGpu.Resolve(index, fallbackToCpu: false, $"xcos bench --device {options.Device}") : null;
        torch.manual_seed(0);
        var result = new XcosBenchmarkResult
        {
            TorchSharp = typeof(torch).Assembly.GetName().Version?.ToString() ?? "",
            Threads = TorchRuntime.Threads,
            Depth = options.Depth,
            Device = $"libtorch {(cuda ? device.ToString() : "cpu")}, ONNX Runtime {(gpu is { } g ? $"{OnnxGpu.CudaProvider} {g}" : "CPU")}",
        };
        // a GPU runs asynchronously: each timed call waits for its work to finish
        Action Timed(Action step) => cuda ? () => { step(); torch.cuda.synchronize(); } : step;
        using var model = new XcosModel(new XcosModelOptions { Arch = "ir_se", Depth = options.Depth, TargetArch = "ir_se" });
        model.to(device);

        if (only.Contains("embed"))
        {
            log?.Invoke($"embed: grid backbone, batch {options.Batch}, {options.Seconds} s");
            model.eval();
            using var x = randn(options.Batch, 3, 112, 112, device: device);
            result = result with
            {
                EmbedImagesPerSecond = Rate(Timed(() =>
                {
                    using var scope = NewDisposeScope();
                    using var _ = no_grad();
                    model.Backbone.Grid(x);
                }), options.Batch, options.Seconds),
            };

            log?.Invoke($"embed (ONNX Runtime): the same backbone exported, batch {options.Batch}, {options.Seconds} s");
            var export = new XcosOnnxExportOptions { IncludeFaceCode = false, IncludeTargetEmbedding = false };
            var onnx = XcosOnnxExport.BuildEmbeddingModel(TorchOnnxExport.ToWeights(model), export).ToByteArray();
            using var so = new SessionOptions { IntraOpNumThreads = options.Threads, InterOpNumThreads = 1 };
            if (gpu is { } id) so.AppendExecutionProvider_CUDA(id);
            using var session = new InferenceSession(onnx, so);
            using var xCpu = x.cpu();
            var input = new DenseTensor(xCpu.data<float>().ToArray(), [options.Batch, 3, 112, 112]);
            var feed = new[] { NamedOnnxValue.CreateFromTensor(XcosOnnxExport.ImageInput, input) };
            string[] wanted = [XcosOnnxExport.GridOutput];
            result = result with
            {
                EmbedImagesPerSecondOnnx = Rate(() => { using var r = session.Run(feed, wanted); }, options.Batch, options.Seconds),
            };

            log?.Invoke($"embed (ONNX Runtime, int8): the same backbone quantized on {CalibrationFaces} synthetic faces, batch {options.Batch}, {options.Seconds} s");
            var int8 = Int8Model(onnx, options.Threads);
            using var session8 = new InferenceSession(int8, so);
            result = result with
            {
                EmbedImagesPerSecondOnnxInt8 = Rate(() => { using var r = session8.Run(feed, wanted); }, options.Batch, options.Seconds),
            };
        }

        if (only.Contains("head"))
        {
            log?.Invoke($"head: {options.HeadPairs} cached grid pairs, {options.Seconds} s (x2: per call, and faces cached)");
            model.eval();
            using var g1 = randn(options.HeadPairs, 32, 7, 7, device: device);
            using var g2 = randn(options.HeadPairs, 32, 7, 7, device: device);
            using var head = new FoldedPairHead(model.AttentionNet);
            var perCall = Rate(Timed(() =>
            {
                using var scope = NewDisposeScope();
                head.Score(g1, g2);
            }), options.HeadPairs, options.Seconds);
            using var k1 = head.Encode(g1);
            using var k2 = head.Encode(g2);
            var cached = Rate(Timed(() =>
            {
                using var scope = NewDisposeScope();
                head.Score(k1, k2);
            }), options.HeadPairs, options.Seconds);
            result = result with { HeadPairsPerSecond = perCall, HeadPairsPerSecondCachedFaces = cached };
        }

        if (only.Contains("train"))
        {
            int b = Math.Max(2, options.Batch / 2);
            log?.Invoke($"train: full xCos step, {b} pairs, ArcFace over 1000 classes, {options.Seconds} s");
            // as XcosTrainer runs: freed activations stay in the process for the next step (HostMemory)
            bool retained = HostMemory.RetainFreedMemory();
            model.train();
            using var arc = new ArcFaceHead(model.Backbone.GridEmbeddingSize, 1000);
            arc.to(device);
            var backboneAndHead = model.Backbone.parameters().Concat(arc.parameters()).ToList();
            using var opt = optim.SGD(backboneAndHead, 1e-3, momentum: 0.9);
            using var optAtt = optim.Adam(model.AttentionNet.parameters(), 1e-4, amsgrad: true);
            using var x1 = randn(b, 3, 112, 112, device: device);
            using var x2 = randn(b, 3, 112, 112, device: device);
            using var y1 = randint(0, 1000, [b], dtype: int64, device: device);
            using var y2 = randint(0, 1000, [b], dtype: int64, device: device);
            using var labels = cat([y1, y2]);
            result = result with
            {
                TrainPairsPerSecond = Rate(Timed(() =>
                {
                    using var scope = NewDisposeScope();
                    var (f1, gr1) = model.Backbone.Grid(x1);
                    var (f2, gr2) = model.Backbone.Grid(x2);
                    var ce = nn.functional.cross_entropy(cat([arc.call(f1, y1), arc.call(f2, y2)]), labels);
                    var w = model.AttentionNet.call(gr1, gr2);
                    var xc = PatchCosine.Xcos(PatchCosine.Map(gr1, gr2), w);
                    Tensor t;
                    using (no_grad())
                        t = nn.functional.cosine_similarity(model.BackboneTarget!.Embed(x1), model.BackboneTarget!.Embed(x2), dim: 1);
                    var loss = ce + nn.functional.mse_loss(xc, t);
                    opt.zero_grad(); optAtt.zero_grad();
                    loss.backward();
                    opt.step(); optAtt.step();
                }), b, options.Seconds),
                TrainHostMemoryRetained = retained,
            };
        }

        if (only.Contains("face"))
        {
            var descriptorPath = FaceModelDescriptor.ShippedPath();
            var descriptor = FaceModelDescriptor.Load(descriptorPath);
            var path = descriptor.OnnxPath(ModelStore.ResolveDirectory(options.ModelsDir), descriptorPath);
            log?.Invoke($"face: {path} (ONNX Runtime{(gpu is null ? "" : ", " + OnnxGpu.CudaProvider)}), batch {options.Batch}, {options.Seconds} s");
            using var embedder = new OnnxFaceEmbedder(descriptor, path, options.Threads, OnnxPrecision.Float32, gpu);
            var rng = new Random(0);
            var faces = Enumerable.Range(0, options.Batch).Select(_ =>
            {
                var px = new byte[descriptor.InputSize * descriptor.InputSize * 3];
                rng.NextBytes(px);
                return new RgbImage(descriptor.InputSize, descriptor.InputSize, px);
            }).ToList();
            result = result with { FaceImagesPerSecondOnnx = Rate(() => embedder.Embed(faces), options.Batch, options.Seconds) };
        }
        return result;
    }

    // The GPU ONNX Runtime runs on for a device text: cuda -> 0, cuda:N -> N, auto -> libtorch's choice; cpu -> none.
    private static int? OnnxDevice(string text, Device torchDevice)
    {
        var d = text.Trim().ToLowerInvariant();
        if (d == "cuda") return 0;
        if (d.StartsWith("cuda:", StringComparison.Ordinal))
            return int.TryParse(d.AsSpan(5), out var n) && n >= 0 ? n : throw new ArgumentException($"Device '{text}': expected cuda:N with N a non-negative integer.");
        if (d == "auto" && torchDevice.type == DeviceType.CUDA) return Math.Max(0, (int)torchDevice.index);
        if (d is "cpu" or "auto") return null;
        throw new ArgumentException($"Device '{text}': expected cpu, cuda, cuda:N or auto.");
    }

    private const int CalibrationFaces = 8;

    /// <summary>The exported backbone in int8 QDQ form, calibrated on synthetic faces (speed does not depend on the values).</summary>
    private static byte[] Int8Model(byte[] onnx, int threads)
    {
        var faces = FaceModelQuantizer.SyntheticFaces(CalibrationFaces);
        var feeds = FaceModelQuantizer.Feeds(faces, XcosOnnxExport.ImageInput, new FaceTensorOptions());
        var options = new OnnxQuantizerOptions { CalibrationDescription = $"{CalibrationFaces} synthetic faces (benchmark)", IntraOpThreads = threads };
        return OnnxQuantizer.Quantize(Xcos.ML.Onnx.Proto.ModelProto.Parser.ParseFrom(onnx), feeds, options).Model.ToByteArray();
    }

    // Same protocol as the peer: one warm-up call, then whole calls until the time is spent.
    private static double Rate(Action step, int items, double seconds)
    {
        step();
        var sw = Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < seconds) { step(); n += items; }
        return n / sw.Elapsed.TotalSeconds;
    }
}
