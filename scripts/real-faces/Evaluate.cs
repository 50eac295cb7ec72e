#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Calibrates and evaluates the real-face pipeline (fr_detect + fr_landmark + fr_feature, weight-derived xCos).
// usage: dotnet run Evaluate.cs -- PHOTOS_DIR MODELS_DIR OUT_DATA_DIR [--write]
//  PHOTOS_DIR from fetch-photos.sh. Faces of the face-api photos 1-3 calibrate (cell means, threshold); faces of
//  photos 4-6 and the OpenCV photos are only evaluated. Pairs: same = two different augmentations of one detected
//  face, different = augmentations of two different faces. There are no identity labels in these photos, so "same"
//  measures robustness to photometric/geometric change, not recognition across photos of a person.
using System.Diagnostics;
using System.Text.Json;
using Xcos.ML.Alignment;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;
using Xcos.ML.Verification;
using Xcos.ML.Metrics;

var photos = args[0]; var models = args[1]; var outDir = args[2]; bool write = args.Contains("--write");
const int Aug = 6;
var rng = new Random(20240607);
var descPath = Path.Combine(outDir, "descriptor.json");
var desc = FaceModelDescriptor.Load(descPath);
using var det = FaceDetector.FromDirectory(models, new FaceDetectorOptions { IntraOpThreads = 2 });
using var emb = new OnnxFaceEmbedder(desc, Path.Combine(models, desc.OnnxFile), 2);
var head = WeightDerivedHead.Extract(emb.Model, emb.FeatureMapName, emb.EmbeddingName);
Console.WriteLine($"head: {string.Join(" ", head.FoldedOps)}; map {emb.FeatureMapName} {head.Channels}x{head.Height}x{head.Width}, dim {head.Dim}");

// Faces: every detection with score >= 0.9, each with Aug augmented aligned crops.
var faces = new List<(string Photo, int Index, bool Calib, List<float[]> U, List<float[]> E)>();
foreach (var f in Directory.GetFiles(photos).Order())
{
    var img = ImageIO.Load(f);
    var name = Path.GetFileName(f);
    bool calib = name is "faceapi_sample1.jpg" or "faceapi_sample2.jpg" or "faceapi_sample3.jpg";
    var r = det.DetectFaces(img);
    int k = 0;
    foreach (var face in r.Faces.Where(x => x.Score >= 0.9f))
    {
        var m = FaceAligner.EstimateMatrix(face.Landmarks5);
        var crops = Enumerable.Range(0, Aug).Select(a => PhotoAugmentation.Augment(img, m, a, rng)).ToList();
        var es = emb.Embed(crops);
        faces.Add((name, k++, calib, es.Select(e => head.CellFeatures(e.FeatureMap)).ToList(), es.Select(e => e.Embedding).ToList()));
    }
    Console.WriteLine($"{name}: {r.FaceCount} faces, {k} used ({(calib ? "calibration" : "evaluation")})");
}
var cal = faces.Where(f => f.Calib).ToList();
var ev = faces.Where(f => !f.Calib).ToList();
Console.WriteLine($"faces: {cal.Count} calibration, {ev.Count} evaluation; {Aug} augmentations each");

// Cell means over calibration faces and augmentations.
var means = new double[head.Cells * head.Dim];
int count = 0;
foreach (var f in cal) foreach (var u in f.U) { for (int i = 0; i < u.Length; i++) means[i] += u[i]; count++; }
var meansF = means.Select(x => (float)(x / count)).ToArray();
var calPath = Path.Combine(Path.GetTempPath(), "cell_means.f16");
CellMeansFile.Write(calPath, meansF, head.Cells, head.Dim);
meansF = CellMeansFile.Read(calPath).Means;  // evaluate with the stored (float16) values

var variants = new (string Name, WeightDerivedXcos X)[]
{
    ("xcos_raw_kernel", new WeightDerivedXcos(head, null, new() { Centre = false, Attention = WeightDerivedAttention.Kernel })),
    ("xcos_centred_kernel", new WeightDerivedXcos(head, meansF, new() { Centre = true, Attention = WeightDerivedAttention.Kernel })),
    ("xcos_raw_pair", new WeightDerivedXcos(head, null, new() { Centre = false, Attention = WeightDerivedAttention.Pair })),
    ("xcos_centred_pair", new WeightDerivedXcos(head, meansF, new() { Centre = true, Attention = WeightDerivedAttention.Pair })),
};

List<(bool Same, float[] U1, float[] U2, float[] E1, float[] E2)> Pairs(List<(string Photo, int Index, bool Calib, List<float[]> U, List<float[]> E)> set)
{
    var list = new List<(bool, float[], float[], float[], float[])>();
    foreach (var f in set)
        for (int a = 0; a < Aug; a++) for (int b = a + 1; b < Aug; b++) list.Add((true, f.U[a], f.U[b], f.E[a], f.E[b]));
    int same = list.Count;
    var diff = new List<(bool, float[], float[], float[], float[])>();
    for (int i = 0; i < set.Count; i++) for (int j = i + 1; j < set.Count; j++)
        for (int a = 0; a < Aug; a++) diff.Add((false, set[i].U[a], set[j].U[(a + 1) % Aug], set[i].E[a], set[j].E[(a + 1) % Aug]));
    var chosen = diff.OrderBy(_ => rng.Next()).Take(same).ToList();  // balanced
    // Alternate same/different so every consecutive fold of the 10-fold protocol is balanced.
    return list.Zip(chosen).SelectMany(t => new[] { t.First, t.Second }).ToList();
}

var calPairs = Pairs(cal);
var evPairs = Pairs(ev);
Console.WriteLine($"pairs: calibration {calPairs.Count}, evaluation {evPairs.Count} (half same, half different)");

// Scores.
double[] Cos(List<(bool Same, float[] U1, float[] U2, float[] E1, float[] E2)> ps) => ps.Select(p => VectorMath.Cosine(p.E1, p.E2)).ToArray();
var report = new Dictionary<string, object>();
var labels = evPairs.Select(p => p.Same).ToArray();
var cosEv = Cos(evPairs);
report["cosine"] = Metrics(cosEv, labels);
double maxSumErr = 0, maxRecErr = 0;
foreach (var (name, x) in variants)
{
    var ex = evPairs.Select(p => x.ExplainCells(p.U1, p.U2)).ToArray();
    var s = ex.Select(e => e.Xcos).ToArray();
    var m = Metrics(s, labels);
    m["mean_abs_xcos_minus_cosine"] = ex.Zip(cosEv).Average(t => Math.Abs(t.First.Xcos - t.Second));
    m["pearson_with_cosine"] = Pearson(s, cosEv);
    report[name] = m;
    foreach (var (e, c) in ex.Zip(cosEv))
    {
        maxSumErr = Math.Max(maxSumErr, Math.Abs(e.Contributions.Sum(v => (double)v) + e.BiasContribution - e.Cosine));
        maxRecErr = Math.Max(maxRecErr, Math.Abs(e.Cosine - c));
    }
}
report["max_abs_contributions_sum_minus_cosine"] = maxSumErr;
report["max_abs_rebuilt_cosine_minus_model_cosine"] = maxRecErr;

// Threshold from calibration pairs only (best accuracy), then its accuracy on evaluation pairs.
var cosCal = Cos(calPairs);
double thr = VerificationMetrics.Evaluate(cosCal, calPairs.Select(p => p.Same).ToArray()).BestThreshold;
report["threshold_from_calibration_pairs"] = thr;
report["evaluation_accuracy_at_that_threshold"] = cosEv.Zip(labels).Average(t => (t.First >= thr) == t.Second ? 1.0 : 0.0);

// Real same-person pairs available in the OpenCV photos (one person each): stereo pair and two video frames.
var realSame = new[] { ("opencv_left06.jpg", "opencv_right06.jpg"), ("opencv_basketball1.png", "opencv_basketball2.png") };
var perPhoto = faces.GroupBy(f => f.Photo).ToDictionary(g => g.Key, g => g.First());
var realList = new List<object>();
foreach (var (a, b) in realSame)
    if (perPhoto.TryGetValue(a, out var fa) && perPhoto.TryGetValue(b, out var fb))
        realList.Add(new { a, b, cosine = VectorMath.Cosine(fa.E[0], fb.E[0]), xcos_centred_kernel = variants[1].X.ExplainCells(fa.U[0], fb.U[0]).Xcos });
report["real_same_person_pairs_unaugmented"] = realList;

// Time per photo pair, detect + align + embed + explain, 2 threads.
var verifierOptions = new OnnxFacePairVerifierOptions { ModelsDir = models, DescriptorPath = descPath, IntraOpThreads = 2, Centre = false };
using (var v = new OnnxFacePairVerifier(verifierOptions))
{
    var files = Directory.GetFiles(photos).Order().ToArray();
    v.Verify(files[0], files[1]);  // warm-up
    var sw = Stopwatch.StartNew();
    int n = 0;
    for (int i = 0; i + 1 < files.Length; i++) { v.Verify(files[i], files[i + 1]); n++; }
    report["ms_per_photo_pair_2_threads_including_jpeg_decode"] = sw.Elapsed.TotalMilliseconds / n;
    var imgs = files.Select(f => ImageIO.Load(f)).ToArray();
    sw.Restart();
    for (int i = 0; i + 1 < imgs.Length; i++) v.Verify(imgs[i], imgs[i + 1]);
    report["ms_per_photo_pair_2_threads_decoded"] = sw.Elapsed.TotalMilliseconds / n;
}

var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
Console.WriteLine(json);
if (write)
{
    File.Copy(calPath, Path.Combine(outDir, "cell_means.f16"), true);
    desc.CalibrationFile = "cell_means.f16";
    desc.Threshold = Math.Round(thr, 4);
    desc.ThresholdSource = $"best accuracy on {calPairs.Count} balanced pairs (same = two augmentations of one face, different = two faces) from the {cal.Count} faces of face-api demo photos 1-3; scripts/real-faces/Evaluate.cs";
    desc.Save(descPath);
    File.WriteAllText(Path.Combine(outDir, "evaluation.json"), json + "\n");
    Console.WriteLine($"wrote {outDir}/cell_means.f16, descriptor.json (threshold {desc.Threshold}), evaluation.json");
}


static Dictionary<string, object> Metrics(double[] s, bool[] y)
{
    var r = VerificationMetrics.Evaluate(s, y);  // 10 consecutive folds, exact ROC
    return new() { ["auc"] = r.Auc, ["accuracy_10fold"] = r.AccuracyMean, ["accuracy_10fold_std"] = r.AccuracyStd, ["eer"] = r.Eer };
}

static double Pearson(double[] a, double[] b)
{
    double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < a.Length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb); }
    return sab / Math.Sqrt(saa * sbb);
}
