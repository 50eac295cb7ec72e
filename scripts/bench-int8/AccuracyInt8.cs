#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
#:property CreateHardLinksForCopyLocalIfPossible=true
#:property CreateHardLinksForCopyFilesToOutputDirectoryIfPossible=true
// fr_feature in int8 with PRelu in integer kernels (OnnxQuantizerOptions.IntegerPRelu, the default) and in float (the
// old form), against fp32: mean and min embedding cosine and verification AUC on dev-faces (its pairs.tsv; the first 3
// photos of each person calibrate, as `xcos export --calibration-count 30` and the tests do) and on celeb-faces (the
// first PER photos of each person, every pair among them). Prints one JSON object.
// usage: dotnet run AccuracyInt8.cs -- MODELS_DIR SHARED_DIR [PER=10]
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Onnx;

string models = args[0], shared = args[1];
int per = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;
using var detector = FaceDetector.FromDirectory(models, new FaceDetectorOptions { IntraOpThreads = 2 });
Dictionary<string, RgbImage> Faces(IEnumerable<string> files, string root)
{
    var faces = new Dictionary<string, RgbImage>(StringComparer.Ordinal);
    foreach (var f in files)
        if (detector.DetectAndAlign(ImageIO.Load(f)).Face is { } face) faces[Path.GetRelativePath(root, f).Replace('\\', '/')] = face;
    return faces;
}
string devRoot = Path.Combine(shared, "dev-faces"), celebRoot = Path.Combine(shared, "celeb-faces");
var dev = Faces(Directory.GetFiles(Path.Combine(devRoot, "photos"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal), devRoot);
var celeb = Faces(Directory.GetDirectories(celebRoot).Order(StringComparer.Ordinal)
    .SelectMany(d => Directory.GetFiles(d).Where(f => f.EndsWith(".png", StringComparison.Ordinal) || f.EndsWith(".jpg", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Take(per)), celebRoot);
var calibration = dev.Keys.GroupBy(k => k.Split('/')[1]).SelectMany(g => g.Take(3)).ToHashSet(StringComparer.Ordinal);
Console.Error.WriteLine($"dev-faces {dev.Count} faces ({calibration.Count} calibrate), celeb-faces {celeb.Count} faces");

var descriptor = FaceModelDescriptor.FrFeature();
string fp32 = Path.Combine(models, descriptor.OnnxFile), dir = Directory.CreateTempSubdirectory("xcos_int8_accuracy_").FullName;
var paths = new Dictionary<string, string> { ["fp32"] = fp32 };
foreach (var (name, integer) in new[] { ("int8 integer PRelu", true), ("int8 float PRelu", false) })
{
    var options = new OnnxQuantizerOptions { TargetCosine = FaceModelQuantizer.DefaultTargetCosine, IntegerPRelu = integer };
    var r = FaceModelQuantizer.Quantize(descriptor, fp32, calibration.Select(k => dev[k]).ToList(), "dev-faces: first 3 photos of each person", options);
    paths[name] = Path.Combine(dir, integer ? "integer.onnx" : "float.onnx");
    File.WriteAllBytes(paths[name], r.Model.ToByteArray());
    Console.Error.WriteLine($"{name}: {r.QuantizedNodes.Count} nodes quantized");
}
var embeddings = new Dictionary<string, Dictionary<string, float[]>>();
foreach (var (name, path) in paths)
{
    using var e = new OnnxFaceEmbedder(descriptor, path, 2);
    var keys = dev.Keys.Concat(celeb.Keys.Select(k => "celeb/" + k)).ToList();
    var faces = dev.Values.Concat(celeb.Values).ToList();
    var list = e.Embed(faces);
    embeddings[name] = keys.Select((k, i) => (k, list[i].Embedding.ToArray())).ToDictionary(t => t.k, t => t.Item2, StringComparer.Ordinal);
}
static double Cosine(float[] a, float[] b)
{
    double d = 0, na = 0, nb = 0;
    for (int i = 0; i < a.Length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    return d / Math.Sqrt(na * nb);
}
var devPairs = File.ReadAllLines(Path.Combine(devRoot, "pairs.tsv")).Skip(1).Select(l => l.Split('\t'))
    .Where(p => dev.ContainsKey(p[0]) && dev.ContainsKey(p[1])).Select(p => (A: p[0], B: p[1], Same: p[2] == "1")).ToList();
var celebKeys = celeb.Keys.ToList();
var celebPairs = new List<(string A, string B, bool Same)>();
for (int i = 0; i < celebKeys.Count; i++)
    for (int j = i + 1; j < celebKeys.Count; j++)
        celebPairs.Add(("celeb/" + celebKeys[i], "celeb/" + celebKeys[j], celebKeys[i].Split('/')[0] == celebKeys[j].Split('/')[0]));
double Auc(Dictionary<string, float[]> e, List<(string A, string B, bool Same)> pairs) =>
    VerificationMetrics.Auc(pairs.Select(p => (float)Cosine(e[p.A], e[p.B])).ToArray(), pairs.Select(p => p.Same).ToArray());
var heldOutDev = dev.Keys.Where(k => !calibration.Contains(k)).ToList();
var report = new Dictionary<string, object>
{
    ["dev_faces"] = dev.Count, ["dev_calibration"] = calibration.Count, ["dev_pairs"] = devPairs.Count,
    ["celeb_faces"] = celeb.Count, ["celeb_pairs"] = celebPairs.Count, ["celeb_same_pairs"] = celebPairs.Count(p => p.Same),
};
foreach (var name in paths.Keys)
{
    var e = embeddings[name];
    var row = new Dictionary<string, double> { ["auc_dev"] = Auc(e, devPairs), ["auc_celeb"] = Auc(e, celebPairs) };
    if (name != "fp32")
    {
        var devCos = heldOutDev.Select(k => Cosine(embeddings["fp32"][k], e[k])).ToList();
        var celebCos = celebKeys.Select(k => Cosine(embeddings["fp32"]["celeb/" + k], e["celeb/" + k])).ToList();
        row["cosine_dev_held_out_mean"] = devCos.Average();
        row["cosine_dev_held_out_min"] = devCos.Min();
        row["cosine_celeb_mean"] = celebCos.Average();
        row["cosine_celeb_min"] = celebCos.Min();
    }
    report[name] = row;
}
Console.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
Directory.Delete(dir, true);
