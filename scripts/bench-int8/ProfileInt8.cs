#:project ../../src/Xcos.ML.Torch/Xcos.ML.Torch.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
#:property CreateHardLinksForCopyLocalIfPossible=true
#:property CreateHardLinksForCopyFilesToOutputDirectoryIfPossible=true
// The int8 graph of a face model as ONNX Runtime runs it: the kernels executed and the time per op type
// (OnnxRuntimeProfile), and images/s at 2 threads, with PRelu kept in float between Q/DQ pairs (the quantizer's old
// form) and rewritten into integer kernels (OnnxQuantizerOptions.IntegerPRelu), in interleaved rounds.
// usage: dotnet run ProfileInt8.cs -- irse|MODEL.onnx [THREADS=2] [SECONDS=5] [ROUNDS=2] [BATCH=32]
//   (libtorch comes from the CLI's build: LD_LIBRARY_PATH=src/Xcos.Cli/bin/Release/net10.0/runtimes/linux-x64/native)
//   irse: the IR-SE-50 grid backbone of `xcos bench` (random weights, 8 synthetic calibration faces, as the bench);
//   MODEL.onnx: a face model such as fr_feature (calibrated on 30 synthetic faces, cosine target as `xcos export`).
using System.Diagnostics;
using Google.Protobuf;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Xcos.ML.FaceModels;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

string what = args[0];
int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
double seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 5;
int rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2;
int batch = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 32;

ModelProto fp32;
string input;
IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> calibration;
OnnxQuantizerOptions Options(bool integer) => what == "irse"
    ? new OnnxQuantizerOptions { IntraOpThreads = threads, IntegerPRelu = integer }
    : new OnnxQuantizerOptions { IntraOpThreads = threads, IntegerPRelu = integer, TargetCosine = FaceModelQuantizer.DefaultTargetCosine };
if (what == "irse")
{
    using var model = new Xcos.ML.Torch.Networks.XcosModel(new Xcos.ML.Torch.Networks.XcosModelOptions { Arch = "ir_se", Depth = 50, TargetArch = "ir_se" });
    model.eval();
    var export = new XcosOnnxExportOptions { IncludeFaceCode = false, IncludeTargetEmbedding = false };
    fp32 = XcosOnnxExport.BuildEmbeddingModel(Xcos.ML.Torch.Export.TorchOnnxExport.ToWeights(model), export);
    input = XcosOnnxExport.ImageInput;
    calibration = FaceModelQuantizer.Feeds(FaceModelQuantizer.SyntheticFaces(8), input, new Xcos.ML.Images.FaceTensorOptions());
}
else
{
    var file = OnnxModelFile.Load(what);
    fp32 = file.Model.Clone();
    OnnxDynamicBatch.Rewrite(fp32);
    input = file.InputNames[0];
    calibration = FaceModelQuantizer.Feeds(FaceModelQuantizer.SyntheticFaces(30), input, FaceModelDescriptor.FrFeature().TensorOptions(), 1);
}

var models = new Dictionary<string, byte[]> { ["fp32"] = fp32.ToByteArray() };
foreach (var (name, integer) in new[] { ("int8 float PRelu", false), ("int8 integer PRelu", true) })
{
    var sw = Stopwatch.StartNew();
    var q = OnnxQuantizer.Quantize(fp32, calibration, Options(integer));
    models[name] = q.Model.ToByteArray();
    Console.Error.WriteLine($"{name}: quantized {q.QuantizedNodes.Count} nodes in {sw.Elapsed.TotalSeconds:F1} s; {q.Model.Graph.Node.Count} nodes");
    var ops = OnnxRuntimeProfile.OpTypes(models[name], calibration.Take(2).ToList(), threads);
    long total = ops.Sum(o => o.Microseconds);
    Console.WriteLine($"## {name}: kernels over 2 calibration batches, {total / 1000.0:F1} ms");
    foreach (var o in ops) Console.WriteLine($"{o.OpType,-28} x{o.Count,5} {o.Microseconds / 1000.0,10:F1} ms {100.0 * o.Microseconds / total,6:F1} %");
}

var rng = new Random(0);
var x = new float[batch * 3 * 112 * 112];
for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
using var so = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
var sessions = models.ToDictionary(kv => kv.Key, kv => new InferenceSession(kv.Value, so));
var rates = models.Keys.ToDictionary(k => k, _ => new List<double>());
for (int r = 0; r < rounds; r++)
    foreach (var (name, s) in sessions)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(x, [batch, 3, 112, 112]);
        using var ro = new RunOptions();
        string output = s.OutputNames[0];
        void Step() { using var o = s.Run(ro, [input], [value], [output]); }
        Step();
        var sw = Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < seconds) { Step(); n += batch; }
        rates[name].Add(n / sw.Elapsed.TotalSeconds);
    }
foreach (var (name, list) in rates) Console.WriteLine($"{name,-22} images/s at batch {batch}, {threads} threads: {string.Join(", ", list.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))}");
foreach (var s in sessions.Values) s.Dispose();
