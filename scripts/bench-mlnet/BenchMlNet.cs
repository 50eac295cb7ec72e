#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Pairs per second of the raw-photo ML.NET pipeline (loaded from its .zip: batch Transform and PredictionEngine) next
// to the same work through the library directly (OnnxFacePairVerifier: detect, align, embed, explain), for raw photos and
// for already-aligned faces. Prints one JSON object; also the .zip sizes.
// usage: dotnet run BenchMlNet.cs -- DEV_FACES_DIR MODELS_DIR [PAIRS]
using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Verification;

string devFaces = args[0], models = args[1];
int n = args.Length > 2 ? int.Parse(args[2]) : 40;
var pairs = File.ReadAllLines(Path.Combine(devFaces, "pairs.tsv")).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t'))
    .Take(n).Select(f => new FacePairInput { ImagePath1 = Path.Combine(devFaces, f[0]), ImagePath2 = Path.Combine(devFaces, f[1]), Label = f[2] == "1" }).ToArray();
var work = Directory.CreateTempSubdirectory("xcos_bench_mlnet_").FullName;
var ml = new MLContext(seed: 0);

// Aligned copies of every photo, for the aligned-face measurements.
var alignedPath = new Dictionary<string, string>();
using (var detector = FaceDetector.FromDirectory(models))
    foreach (var p in pairs.SelectMany(p => new[] { p.ImagePath1, p.ImagePath2 }).Distinct())
    {
        var face = detector.DetectAndAlign(ImageIO.Load(p)).Face ?? new RgbImage(112, 112);
        var a = Path.Combine(work, alignedPath.Count + ".png");
        ImageIO.SavePng(face, a);
        alignedPath[p] = a;
    }
var alignedPairs = pairs.Select(p => new FacePairInput { ImagePath1 = alignedPath[p.ImagePath1], ImagePath2 = alignedPath[p.ImagePath2], Label = p.Label }).ToArray();

var result = new Dictionary<string, object>();
foreach (var (name, rows, aligned) in new[] { ("photos", pairs, false), ("aligned", alignedPairs, true) })
{
    var data = ml.Data.LoadFromEnumerable(rows);
    var zip = Path.Combine(work, name + ".zip");
    var fitted = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions { FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = models, Aligned = aligned }).Fit(data);
    ml.Model.Save(fitted, data.Schema, zip);
    var loaded = new MLContext(seed: 1).Model.Load(zip, out _);
    loaded.Transform(data).GetColumn<float>("Score").Take(1).ToArray();   // warm-up
    var sw = Stopwatch.StartNew();
    var scores = loaded.Transform(data).GetColumn<float>("Score").ToArray();
    double batch = rows.Length / sw.Elapsed.TotalSeconds;
    var engine = ml.Model.CreatePredictionEngine<FacePairInput, FacePairPrediction>(loaded);
    engine.Predict(rows[0]);
    sw.Restart();
    foreach (var r in rows) engine.Predict(r);
    double single = rows.Length / sw.Elapsed.TotalSeconds;

    // The same work through the library directly.
    using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, IntraOpThreads = 0 });
    verifier.Verify(rows[0].ImagePath1, rows[0].ImagePath2);
    sw.Restart();
    foreach (var r in rows)
    {
        if (!aligned) verifier.Verify(r.ImagePath1, r.ImagePath2);
        else verifier.VerifyAligned(ImageIO.Load(r.ImagePath1), ImageIO.Load(r.ImagePath2));
    }
    double core = rows.Length / sw.Elapsed.TotalSeconds;
    result[name] = new { pairs = rows.Length, mlnet_transform_pairs_per_s = batch, mlnet_engine_pairs_per_s = single, core_pairs_per_s = core, zip_bytes = new FileInfo(zip).Length };
}
Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
Directory.Delete(work, recursive: true);
