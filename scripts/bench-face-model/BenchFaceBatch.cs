#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Images per second of an ONNX face model (OnnxFaceEmbedder: the model made batch-dynamic by OnnxDynamicBatch) at
// batch 1, 8 and 32, fp32 and (when NAME.int8.onnx is next to it) int8, in interleaved rounds so both precisions
// and every batch see the same machine load. Prints one JSON object: per precision and batch, the median images/s
// over the rounds and every round's figure.
// usage: dotnet run BenchFaceBatch.cs -- MODEL.onnx [THREADS=2] [SECONDS_PER_CELL=5] [ROUNDS=3]
using System.Diagnostics;
using System.Text.Json;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;

string model = args[0];
int threads = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2;
double seconds = args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5;
int rounds = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 3;
int[] batches = [1, 8, 32];
var descriptor = FaceModelDescriptor.FrFeature();
var embedders = new Dictionary<string, OnnxFaceEmbedder> { ["fp32"] = new(descriptor, model, threads, OnnxPrecision.Float32) };
if (File.Exists(OnnxFaceEmbedder.Int8Path(model))) embedders["int8"] = new(descriptor, model, threads, OnnxPrecision.Int8);
var rng = new Random(0);
var faces = Enumerable.Range(0, 32).Select(_ =>
{
    var px = new byte[112 * 112 * 3];
    rng.NextBytes(px);
    return new RgbImage(112, 112, px);
}).ToArray();
var figures = embedders.Keys.ToDictionary(p => p, _ => batches.ToDictionary(b => b, _ => new List<double>()));
foreach (var e in embedders.Values) e.Embed(faces);   // warm-up at the largest batch
for (int r = 0; r < rounds; r++)
{
    foreach (var (precision, embedder) in embedders)
    {
        foreach (int b in batches)
        {
            var batch = faces.Take(b).ToArray();
            embedder.Embed(batch);
            int images = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                embedder.Embed(batch);
                images += b;
            }
            figures[precision][b].Add(images / clock.Elapsed.TotalSeconds);
            Console.Error.WriteLine($"round {r + 1} {precision} batch {b}: {figures[precision][b][^1]:F2} images/s");
        }
    }
}
static double Median(List<double> v) { var s = v.Order().ToArray(); return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }
var result = new Dictionary<string, object>
{
    ["model"] = Path.GetFileName(model), ["threads"] = threads, ["seconds_per_cell"] = seconds, ["rounds"] = rounds,
    ["batched"] = embedders.ToDictionary(kv => kv.Key, kv => kv.Value.Batched),
    ["images_per_s_median"] = figures.ToDictionary(kv => kv.Key, kv => kv.Value.ToDictionary(x => x.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), x => Math.Round(Median(x.Value), 2))),
    ["images_per_s_rounds"] = figures.ToDictionary(kv => kv.Key, kv => kv.Value.ToDictionary(x => x.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), x => x.Value.Select(v => Math.Round(v, 2)).ToArray())),
};
Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
foreach (var e in embedders.Values) e.Dispose();
