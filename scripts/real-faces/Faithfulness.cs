#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Deletion/insertion and occlusion on dev-faces identity pairs (held-out identities of Calibrate.cs), fr_feature.
// usage: dotnet run scripts/real-faces/Faithfulness.cs -- DEV_FACES_DIR MODELS_DIR DATA_DIR OUT_JSON CURVE_PNG OCCLUSION_PNG [PAIRS_PER_CLASS]
//  Curves: the first PAIRS_PER_CLASS (default 12) same and as many different rows of pairs.tsv whose photos are both of
//  held-out identities, unaugmented (real photo pairs), 2 cells per step, face 1 perturbed; the explained score is the
//  model's cosine. Orders: the calibrated xCos of the shipped descriptor (cell map x attention), the previous default
//  (raw kernel, uncalibrated), the exact contributions, the learned head (map x attention), Grad-CAM, random.
//  Occlusion: every held-out row of pairs.tsv, blobs on face 2, 10-fold accuracy of the cosine and both xCos.
using System.Diagnostics;
using System.Text.Json;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Numerics;
using Xcos.ML.Verification;

var devFaces = args[0]; var models = args[1]; var dataDir = args[2]; var outJson = args[3]; var curvePng = args[4]; var occPng = args[5];
int perClass = args.Length > 6 ? int.Parse(args[6]) : 12;
string[] heldOut = ["Colin_Powell", "Gerhard_Schroeder", "Jacques_Chirac", "Vladimir_Putin"];
var descPath = Path.Combine(dataDir, "descriptor.json");
using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, DescriptorPath = descPath, IntraOpThreads = 2 });
var head = verifier.Xcos.Head;
var old = new WeightDerivedXcos(head, null, new WeightDerivedXcosOptions { Attention = WeightDerivedAttention.Kernel, Centre = false });
using var learned = new LearnedHead(LearnedHead.NextTo(descPath) ?? throw new FileNotFoundException($"no learned head next to {descPath}"), 2);
var gradients = new AffineHeadScorer(head);
Console.WriteLine($"new xCos: {verifier.Xcos.Options.Describe()}; previous: {old.Options.Describe()}; threshold {verifier.Threshold}");

string Identity(string rel) => rel.Split('/')[1];
var rows = File.ReadLines(Path.Combine(devFaces, "pairs.tsv")).Skip(1).Select(l => l.Split('\t'))
    .Where(c => heldOut.Contains(Identity(c[0])) && heldOut.Contains(Identity(c[1]))).ToList();
var curveRows = rows.Where(c => c[2] == "1").Take(perClass).Concat(rows.Where(c => c[2] == "0").Take(perClass)).ToList();
string WriteTsv(List<string[]> rs)
{
    var p = Path.Combine(Path.GetTempPath(), $"xcos-faith-{Environment.ProcessId}-{rs.Count}.tsv");
    File.WriteAllLines(p, new[] { "file1\tfile2\tsame" }.Concat(rs.Select(c => string.Join('\t', c))));
    return p;
}
var options = new RealFaceFaithfulnessOptions { Augmentation = null, Curves = new FaithfulnessOptions { PatchesPerStep = 2, Face = 1 } };
var curveSet = RealFaceFaithfulness.LoadPairs(verifier, WriteTsv(curveRows), devFaces, options);
var scorer = new RealFaceScoring(verifier.Embedder, verifier.Xcos, 32);
var sw = Stopwatch.StartNew();
var results = new List<FaithfulnessPairResult>();
for (int i = 0; i < curveSet.Count; i++)
{
    var (f1, f2) = curveSet.Faces[i];
    var e = verifier.Embedder.Embed([f1, f2]);
    var x = verifier.Xcos.Explain(e[0].FeatureMap, e[1].FeatureMap);
    var xo = old.Explain(e[0].FeatureMap, e[1].FeatureMap);
    var l = learned.Explain(e[0].FeatureMap, e[1].FeatureMap);
    var cam = GradCam.Compute(gradients, e[0].FeatureMap, e[1].FeatureMap);
    PatchExplanation[] ex =
    [
        new("xcos_calibrated", x.CosMap.Zip(x.Attention, (c, a) => c * a).ToArray()),
        new("xcos_previous", xo.CosMap.Zip(xo.Attention, (c, a) => c * a).ToArray()),
        new("contribution", x.Contributions),
        new("learned", l.CosMap.Zip(l.Attention, (c, a) => c * a).ToArray()),
        new("gradcam", cam.Cam1),
    ];
    results.Add(Faithfulness.Evaluate(scorer, f1, f2, ex, options.Curves));
    Console.WriteLine($"pair {i + 1}/{curveSet.Count} ({curveSet.Names[i]}), {sw.Elapsed.TotalSeconds:F0} s");
}
double curveSeconds = sw.Elapsed.TotalSeconds;
var labels = curveSet.Labels.ToArray();
var all = FaithfulnessSummary.From(results);
var sameOnly = FaithfulnessSummary.From(results.Where((_, i) => labels[i]).ToList());
var diffOnly = FaithfulnessSummary.From(results.Where((_, i) => !labels[i]).ToList());
Console.WriteLine(RealFaceFaithfulness.FormatTable(all));
FaithfulnessCurvePlot.Save(curvePng, all, FaithfulnessKind.Deletion, RealFaceFaithfulness.CosineScore);

// Occlusion on every held-out row: the cosine and the calibrated xCos from one scorer, the previous xCos from another.
sw.Restart();
var occSet = RealFaceFaithfulness.LoadPairs(verifier, WriteTsv(rows), devFaces, options);
var occOptions = new OcclusionOptions { Verification = new VerificationOptions { Folds = 10 } };
var f1s = occSet.Faces.Select(f => f.Face1).ToArray();
var f2s = occSet.Faces.Select(f => f.Face2).ToArray();
var occ = OcclusionRobustness.Evaluate(scorer, f1s, f2s, occSet.Labels.ToArray(), occOptions);
var occOld = OcclusionRobustness.Evaluate(new RealFaceScoring(verifier.Embedder, old, 32), f1s, f2s, occSet.Labels.ToArray(), occOptions);
var series = occ.Series.Select(s => s with { ScoreName = s.ScoreName == "xcos" ? "xcos_calibrated" : s.ScoreName })
    .Append(occOld.Series.First(s => s.ScoreName == "xcos") with { ScoreName = "xcos_previous" }).ToArray();
var occAll = occ with { Series = series };
occAll.SavePlot(occPng);
double occSeconds = sw.Elapsed.TotalSeconds;

object Table(FaithfulnessSummary s) => s.Rows.Select(r => new { method = r.Method, kind = r.Kind.ToString().ToLowerInvariant(), score = r.ScoreName, auc = r.Auc, auc_std = r.AucStd, pairs = r.Pairs }).ToArray();
var report = new
{
    model = verifier.Descriptor.Name,
    xcos_calibrated = verifier.Xcos.Options.Describe(),
    xcos_previous = old.Options.Describe(),
    curve_pairs = curveSet.Names,
    curve_labels = labels,
    patches_per_step = options.Curves.PatchesPerStep,
    perturbed_face = options.Curves.Face,
    curve_seconds = curveSeconds,
    all_pairs = Table(all),
    same_pairs = Table(sameOnly),
    different_pairs = Table(diffOnly),
    occlusion = new { pairs = occSet.Count, same = occSet.Labels.Count(v => v), levels = occAll.Levels, series = occAll.Series, seconds = occSeconds },
};
var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
File.WriteAllText(outJson, json + "\n");
Console.WriteLine($"same pairs:\n{RealFaceFaithfulness.FormatTable(sameOnly)}different pairs:\n{RealFaceFaithfulness.FormatTable(diffOnly)}");
foreach (var s in occAll.Series) Console.WriteLine($"occlusion {s.ScoreName}: {string.Join(" ", s.AccuracyMean.Select(v => v.ToString("F3")))}");
Console.WriteLine($"wrote {outJson}, {curvePng}, {occPng}; curves {curveSeconds:F0} s, occlusion {occSeconds:F0} s");
