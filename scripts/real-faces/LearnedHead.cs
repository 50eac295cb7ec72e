#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Training data and evaluation of the learned xCos head of fr_feature (the head itself is trained by `xcos train`).
// usage:
//   dotnet run LearnedHead.cs -- prepare PHOTOS_DIR MODELS_DIR OUT_DIR [--per-face N] [--synthetic IDS] [--seed S]
//     OUT_DIR/<photo>_<k>/NNNN.png: every face (detector score >= 0.9) of the CALIBRATION photos only (face-api
//     sample1-3), N heavily augmented aligned crops each (crop 0 plain); with --synthetic, also IDS identities of
//     Xcos.ML.Data.Synthetic.SyntheticFaces aligned on their true landmarks (OUT_DIR/synth_<id>/NNNN.png).
//   dotnet run LearnedHead.cs -- evaluate PHOTOS_DIR MODELS_DIR DATA_DIR HEAD.onnx [--write]
//     The pairs of scripts/real-faces/Evaluate.cs, rebuilt with its seed and draw order (faces of the face-api photos
//     1-3 calibrate, the other faces are evaluated; same = two augmentations of one face): cosine, weight-derived and
//     learned xCos on the evaluation pairs. None of their faces is in the prepared training data. --write stores
//     DATA_DIR/learned_head_evaluation.json.
using System.Text.Json;
using Xcos.ML.Alignment;
using Xcos.ML.Data.Synthetic;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;
using Xcos.ML.Metrics;

static bool IsCalibration(string name) => name is "faceapi_sample1.jpg" or "faceapi_sample2.jpg" or "faceapi_sample3.jpg";
string Opt(string name, string def) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }

if (args.Length < 4 || args[0] is not ("prepare" or "evaluate")) { Console.Error.WriteLine("usage: prepare PHOTOS MODELS OUT [--per-face N] [--synthetic IDS] | evaluate PHOTOS MODELS DATA_DIR HEAD.onnx [--write]"); return 2; }
var photos = args[1]; var models = args[2];
using var det = FaceDetector.FromDirectory(models, new FaceDetectorOptions { IntraOpThreads = 2 });

if (args[0] == "prepare")
{
    var outDir = args[3];
    int perFace = int.Parse(Opt("--per-face", "40")), synth = int.Parse(Opt("--synthetic", "0"));
    var rng = new Random(int.Parse(Opt("--seed", "7")));
    int faces = 0, images = 0;
    foreach (var f in Directory.GetFiles(photos).Order())
    {
        var name = Path.GetFileName(f);
        if (!IsCalibration(name)) continue;  // evaluation faces never enter training
        var img = ImageIO.Load(f);
        int k = 0;
        foreach (var face in det.DetectFaces(img).Faces.Where(x => x.Score >= 0.9f))
        {
            var m = FaceAligner.EstimateMatrix(face.Landmarks5);
            var dir = Path.Combine(outDir, $"{Path.GetFileNameWithoutExtension(name)}_{k++}");
            Directory.CreateDirectory(dir);
            for (int a = 0; a < perFace; a++)
                ImageIO.SavePng(PhotoAugmentation.Augment(img, m, a == 0 ? 0 : 1 + rng.Next(5), rng, 1.5), Path.Combine(dir, $"{a:D4}.png"));
            faces++; images += perFace;
        }
    }
    if (synth > 0)
    {
        var sf = new SyntheticFaces(new SyntheticFacesOptions { Identities = synth, ImagesPerIdentity = 8, Seed = 11, ValidationFraction = 0 });
        foreach (var s in sf.Generate(Enumerable.Range(0, synth)))
        {
            var dir = Path.Combine(outDir, $"synth_{s.Identity:D4}");
            Directory.CreateDirectory(dir);
            ImageIO.SavePng(FaceAligner.Align(new RgbImage(s.Size, s.Size, s.Rgb), s.Landmarks.Points).Face, Path.Combine(dir, $"{s.Index:D4}.png"));
            images++;
        }
    }
    Console.WriteLine($"wrote {images} aligned 112x112 images to {outDir}: {faces} real faces x {perFace} crops (face-api photos 1-3 only), {synth} synthetic identities");
    return 0;
}

// evaluate: exactly Evaluate.cs's faces, augmentations and pairs (same seed, same order of random draws).
var dataDir = args[3]; var headPath = args[4]; bool write = args.Contains("--write");
const int Aug = 6;
var r = new Random(20240607);
var desc = FaceModelDescriptor.Load(Path.Combine(dataDir, "descriptor.json"));
using var emb = new OnnxFaceEmbedder(desc, Path.Combine(models, desc.OnnxFile), 2);
using var learned = new LearnedHead(headPath, 2);
learned.CheckFits(desc, emb.MapShape[0]);
var head = WeightDerivedHead.Extract(emb.Model, emb.FeatureMapName, emb.EmbeddingName);
var means = CellMeansFile.Read(Path.Combine(dataDir, desc.CalibrationFile!), head.Cells, head.Dim).Means;
var all = new List<(bool Calib, List<float[]> M, List<float[]> E)>();
foreach (var f in Directory.GetFiles(photos).Order())
{
    var img = ImageIO.Load(f);
    bool calib = IsCalibration(Path.GetFileName(f));
    foreach (var face in det.DetectFaces(img).Faces.Where(x => x.Score >= 0.9f))
    {
        var m = FaceAligner.EstimateMatrix(face.Landmarks5);
        var crops = Enumerable.Range(0, Aug).Select(a => PhotoAugmentation.Augment(img, m, a, r)).ToList();
        var es = emb.Embed(crops);
        all.Add((calib, es.Select(e => e.FeatureMap).ToList(), es.Select(e => e.Embedding).ToList()));
    }
}
var cal = all.Where(x => x.Calib).ToList();
var ev = all.Where(x => !x.Calib).ToList();
List<(bool Same, float[] M1, float[] M2, float[] E1, float[] E2)> Pairs(List<(bool Calib, List<float[]> M, List<float[]> E)> set)
{
    var list = new List<(bool, float[], float[], float[], float[])>();
    foreach (var f in set)
        for (int a = 0; a < Aug; a++) for (int b = a + 1; b < Aug; b++) list.Add((true, f.M[a], f.M[b], f.E[a], f.E[b]));
    var diff = new List<(bool, float[], float[], float[], float[])>();
    for (int i = 0; i < set.Count; i++) for (int j = i + 1; j < set.Count; j++)
        for (int a = 0; a < Aug; a++) diff.Add((false, set[i].M[a], set[j].M[(a + 1) % Aug], set[i].E[a], set[j].E[(a + 1) % Aug]));
    var chosen = diff.OrderBy(_ => r.Next()).Take(list.Count).ToList();
    return list.Zip(chosen).SelectMany(t => new[] { t.First, t.Second }).ToList();
}
_ = Pairs(cal);  // drawn only to keep Evaluate.cs's random sequence
var pairs = Pairs(ev);
var labels = pairs.Select(p => p.Same).ToArray();
var cos = pairs.Select(p => VectorMath.Cosine(p.E1, p.E2)).ToArray();
var report = new Dictionary<string, object>
{
    ["pairs"] = pairs.Count, ["evaluation_faces"] = ev.Count, ["calibration_faces"] = cal.Count,
    ["head"] = Path.GetFileName(headPath), ["head_training"] = learned.Metadata.GetValueOrDefault(LearnedHead.TrainingKey) ?? "",
    ["cosine"] = Metrics(cos, labels, null),
};
var raw = new WeightDerivedXcos(head, null, new() { Centre = false, Attention = WeightDerivedAttention.Kernel });
var centred = new WeightDerivedXcos(head, means, new() { Centre = true, Attention = WeightDerivedAttention.Kernel });
report["xcos_weights_raw_kernel"] = Metrics(pairs.Select(p => raw.Explain(p.M1, p.M2).Xcos).ToArray(), labels, cos);
report["xcos_weights_centred_kernel"] = Metrics(pairs.Select(p => centred.Explain(p.M1, p.M2).Xcos).ToArray(), labels, cos);
var le = pairs.Select(p => learned.Explain(p.M1, p.M2)).ToArray();
var lm = Metrics(le.Select(e => e.Xcos).ToArray(), labels, cos);
lm["mean_attention_entropy_nats"] = le.Average(e => -e.Attention.Sum(a => a > 0 ? a * Math.Log(a) : 0));
report["xcos_learned"] = lm;
var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
Console.WriteLine(json);
if (write) { File.WriteAllText(Path.Combine(dataDir, "learned_head_evaluation.json"), json + "\n"); Console.WriteLine($"wrote {dataDir}/learned_head_evaluation.json"); }
return 0;

static Dictionary<string, object> Metrics(double[] s, bool[] y, double[]? cosine)
{
    var v = VerificationMetrics.Evaluate(s, y);  // 10 consecutive folds, exact ROC
    var d = new Dictionary<string, object> { ["auc"] = v.Auc, ["accuracy_10fold"] = v.AccuracyMean, ["accuracy_10fold_std"] = v.AccuracyStd, ["eer"] = v.Eer };
    if (cosine is not null)
    {
        d["mean_abs_xcos_minus_cosine"] = s.Zip(cosine).Average(t => Math.Abs(t.First - t.Second));
        double ma = s.Average(), mb = cosine.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < s.Length; i++) { sab += (s[i] - ma) * (cosine[i] - mb); saa += (s[i] - ma) * (s[i] - ma); sbb += (cosine[i] - mb) * (cosine[i] - mb); }
        d["pearson_with_cosine"] = sab / Math.Sqrt(saa * sbb);
    }
    return d;
}

