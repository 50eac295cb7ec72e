#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Puts fr_feature's weight-derived xCos on the cosine's scale and sets its threshold on real identities (dev-faces).
// usage: dotnet run scripts/real-faces/Calibrate.cs -- DEV_FACES_DIR MODELS_DIR DATA_DIR [--write]
//  Identities are split once: the six of FitIdentities fit everything (affine a, b; threshold; the choice of variant),
//  the four others are held out of every fit and only measured. Pairs of a part: every pair of its photos (same =
//  one identity), plus, reported separately, the rows of DEV_FACES/pairs.tsv whose two photos are both in the part.
//  --write stores the chosen variant, a, b and the threshold in DATA_DIR/descriptor.json and the measurements in
//  DATA_DIR/identity_calibration.json.
using System.Text.Json;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Verification;
using Xcos.ML.Numerics;

var devFaces = args[0]; var models = args[1]; var dataDir = args[2]; bool write = args.Contains("--write");
string[] FitIdentities = ["Ariel_Sharon", "Arnold_Schwarzenegger", "Donald_Rumsfeld", "George_W_Bush", "Hugo_Chavez", "Tony_Blair"];
string[] HeldOutIdentities = ["Colin_Powell", "Gerhard_Schroeder", "Jacques_Chirac", "Vladimir_Putin"];
var descPath = Path.Combine(dataDir, "descriptor.json");
var desc = FaceModelDescriptor.Load(descPath);
double oldThreshold = desc.Threshold;

// Uncalibrated raw features: every variant below is built from the same cell features.
using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions
{
    ModelsDir = models, DescriptorPath = descPath, IntraOpThreads = 2, Calibrate = false, Centre = false, Attention = WeightDerivedAttention.Kernel,
});
var head = verifier.Xcos.Head;
var means = CellMeansFile.Read(Path.Combine(dataDir, desc.CalibrationFile ?? throw new InvalidDataException($"{descPath}: no calibration_file")), head.Cells, head.Dim).Means;

// Photos: largest detected face, aligned, embedded.
var photos = new List<(string Rel, string Identity, float[] U, float[] E)>();
var noFace = new List<string>();
foreach (var id in FitIdentities.Concat(HeldOutIdentities))
    foreach (var f in Directory.GetFiles(Path.Combine(devFaces, "photos", id), "*.jpg").Order())
    {
        var rel = Path.GetRelativePath(devFaces, f).Replace('\\', '/');
        var aligned = verifier.Analyse(ImageIO.Load(f), rel).Aligned;
        if (aligned is null) { noFace.Add(rel); continue; }
        var e = verifier.Embedder.Embed([aligned])[0];
        photos.Add((rel, id, head.CellFeatures(e.FeatureMap), e.Embedding));
    }
Console.WriteLine($"{photos.Count} photos embedded, {noFace.Count} without a face: {string.Join(", ", noFace)}");

List<(int A, int B, bool Same)> AllPairs(string[] ids)
{
    var idx = Enumerable.Range(0, photos.Count).Where(i => ids.Contains(photos[i].Identity)).ToArray();
    var list = new List<(int, int, bool)>();
    for (int i = 0; i < idx.Length; i++)
        for (int j = i + 1; j < idx.Length; j++) list.Add((idx[i], idx[j], photos[idx[i]].Identity == photos[idx[j]].Identity));
    return list;
}
List<(int A, int B, bool Same)> TsvPairs(string[] ids)
{
    var at = photos.Select((p, i) => (p.Rel, i)).ToDictionary(t => t.Rel, t => t.i);
    var list = new List<(int, int, bool)>();
    foreach (var line in File.ReadLines(Path.Combine(devFaces, "pairs.tsv")).Skip(1))
    {
        var c = line.Split('\t');
        if (at.TryGetValue(c[0], out var a) && at.TryGetValue(c[1], out var b) && ids.Contains(photos[a].Identity) && ids.Contains(photos[b].Identity))
            list.Add((a, b, c[2] == "1"));
    }
    return list;
}
var parts = new (string Name, List<(int A, int B, bool Same)> Pairs)[]
{
    ("fit_all_pairs", AllPairs(FitIdentities)), ("held_out_all_pairs", AllPairs(HeldOutIdentities)),
    ("fit_pairs_tsv", TsvPairs(FitIdentities)), ("held_out_pairs_tsv", TsvPairs(HeldOutIdentities)),
};
foreach (var (name, ps) in parts) Console.WriteLine($"{name}: {ps.Count} pairs ({ps.Count(p => p.Same)} same)");
var fit = parts[0].Pairs;

double[] Cos(List<(int A, int B, bool Same)> ps) => ps.Select(p => VectorMath.Cosine(photos[p.A].E, photos[p.B].E)).ToArray();
bool[] Labels(List<(int A, int B, bool Same)> ps) => ps.Select(p => p.Same).ToArray();

// Threshold on the fit part's cosines: best balanced accuracy (mean of the same and different pairs' accuracies),
// the middle of the best run of candidate thresholds (midpoints between consecutive scores).
var fitCos = Cos(fit);
double threshold = Math.Round(BestBalancedThreshold(fitCos, Labels(fit)), 4);
Console.WriteLine($"threshold from fit pairs: {threshold} (was {oldThreshold})");

// Variants: attention x centring, each uncalibrated and with a, b fitted by least squares of cosine on xCos (fit pairs).
var bases = new (string Name, WeightDerivedAttention Att, bool Centre)[]
{
    ("kernel_raw", WeightDerivedAttention.Kernel, false), ("kernel_centred", WeightDerivedAttention.Kernel, true),
    ("pair_raw", WeightDerivedAttention.Pair, false), ("pair_centred", WeightDerivedAttention.Pair, true),
    ("contribution", WeightDerivedAttention.Contribution, false),
};
var variants = new List<(string Name, WeightDerivedXcos X, double A, double B)>();
foreach (var (name, att, centre) in bases)
{
    var plain = new WeightDerivedXcos(head, means, new() { Attention = att, Centre = centre });
    variants.Add((name, plain, 1, 0));
    var x = fit.Select(p => plain.ExplainCells(photos[p.A].U, photos[p.B].U).Xcos).ToArray();
    var (a, b) = LeastSquares(x, fitCos);
    variants.Add((name + "_affine", new WeightDerivedXcos(head, means, new() { Attention = att, Centre = centre, Scale = a, Offset = b }), a, b));
    variants.Add((name + "_affine_matched", new WeightDerivedXcos(head, means, new() { Attention = att, Centre = centre, Scale = a, Offset = b, MatchCosine = true }), a, b));
}

var report = new Dictionary<string, object>
{
    ["model"] = desc.Name,
    ["fit_identities"] = FitIdentities,
    ["held_out_identities"] = HeldOutIdentities,
    ["photos_without_face"] = noFace,
    ["threshold"] = threshold,
    ["threshold_source"] = "",
    ["previous_threshold"] = oldThreshold,
};
var table = new Dictionary<string, object>();
double maxIdentityErr = 0;
foreach (var (partName, ps) in parts)
{
    var cos = Cos(ps);
    var y = Labels(ps);
    var part = new Dictionary<string, object>
    {
        ["pairs"] = ps.Count, ["same"] = y.Count(v => v), ["different"] = y.Count(v => !v),
        ["cosine"] = new Dictionary<string, object>
        {
            ["auc"] = VerificationMetrics.Auc(cos, y),
            ["far_at_threshold"] = Rate(cos, y, threshold, false), ["frr_at_threshold"] = Rate(cos, y, threshold, true),
            ["far_at_previous_threshold"] = Rate(cos, y, oldThreshold, false), ["frr_at_previous_threshold"] = Rate(cos, y, oldThreshold, true),
            ["min_same"] = cos.Where((_, i) => y[i]).Min(), ["max_different"] = cos.Where((_, i) => !y[i]).Max(),
        },
    };
    foreach (var (name, x, a, b) in variants)
    {
        var ex = ps.Select(p => x.ExplainCells(photos[p.A].U, photos[p.B].U)).ToArray();
        var s = ex.Select(e => e.Xcos).ToArray();
        foreach (var e in ex)
        {
            double sum = 0;
            for (int c = 0; c < e.CosMap.Length; c++) sum += (double)e.CosMap[c] * e.Attention[c];
            maxIdentityErr = Math.Max(maxIdentityErr, Math.Abs(sum - e.Xcos));
        }
        part[name] = new Dictionary<string, object>
        {
            ["variant"] = x.Options.Describe(), ["a"] = a, ["b"] = b,
            ["auc"] = VerificationMetrics.Auc(s, y),
            ["mean_abs_xcos_minus_cosine"] = s.Zip(cos).Average(t => Math.Abs(t.First - t.Second)),
            ["max_abs_xcos_minus_cosine"] = s.Zip(cos).Max(t => Math.Abs(t.First - t.Second)),
            ["agreement_at_threshold"] = s.Zip(cos).Average(t => (t.First >= threshold) == (t.Second >= threshold) ? 1.0 : 0.0),
            ["agreement_at_previous_threshold"] = s.Zip(cos).Average(t => (t.First >= oldThreshold) == (t.Second >= oldThreshold) ? 1.0 : 0.0),
            ["pearson_with_cosine"] = Pearson(s, cos),
            ["cell_map_min"] = ex.Min(e => e.CosMap.Min()), ["cell_map_max"] = ex.Max(e => e.CosMap.Max()),
            ["mean_abs_shift"] = ex.Average(e => Math.Abs(e.Shift)),
            ["cells_outside_minus1_1"] = ex.Average(e => e.CosMap.Count(v => v < -1 || v > 1) / (double)e.CosMap.Length),
            // how far apart the cells of one pair's map are: the map's contrast
            ["mean_cell_map_std"] = ex.Average(e => { double m = e.CosMap.Average(v => (double)v); return Math.Sqrt(e.CosMap.Average(v => (v - m) * (v - m))); }),
        };
    }
    table[partName] = part;
}
report["max_abs_xcos_minus_sum_attention_times_map"] = maxIdentityErr;

Console.WriteLine($"| pairs | variant | a | b | mean abs(xCos - cos) | agreement at {threshold} | AUC (cosine AUC) | mean abs shift | cells outside [-1,1] |");
foreach (var (partName, _) in parts)
{
    var part = (Dictionary<string, object>)table[partName];
    var cauc = (double)((Dictionary<string, object>)part["cosine"])["auc"];
    foreach (var (name, _, a, b) in variants)
    {
        var m = (Dictionary<string, object>)part[name];
        Console.WriteLine(FormattableString.Invariant($"| {partName} | {name} | {a:F4} | {b:F4} | {(double)m["mean_abs_xcos_minus_cosine"]:F4} | {100 * (double)m["agreement_at_threshold"]:F1} % | {(double)m["auc"]:F4} ({cauc:F4}) | {(double)m["mean_abs_shift"]:F4} | {100 * (double)m["cells_outside_minus1_1"]:F1} % |"));
    }
}

// Choice on the fit part only: the variants that meet the three targets there; of those, the ones whose map stays on
// the cosine's scale (<= 5 % of cells outside [-1, 1]) if any, else the fewest cells outside; then the smallest mean
// shift (the map that needs the least per-pair correction).
var fitTable = (Dictionary<string, object>)table["fit_all_pairs"];
double fitCosAuc = (double)((Dictionary<string, object>)fitTable["cosine"])["auc"];
var meeting = variants
    .Select(v => (v, m: (Dictionary<string, object>)fitTable[v.Name]))
    .Where(t => (double)t.m["auc"] >= fitCosAuc - 0.003 && (double)t.m["mean_abs_xcos_minus_cosine"] <= 0.05 && (double)t.m["agreement_at_threshold"] >= 0.97)
    .ToList();
if (meeting.Count == 0) throw new InvalidOperationException("no variant meets the three targets on the fit pairs");
var onScale = meeting.Where(t => (double)t.m["cells_outside_minus1_1"] <= 0.05).ToList();
var chosen = onScale.Count > 0
    ? onScale.OrderBy(t => (double)t.m["mean_abs_shift"]).First().v
    : meeting.OrderBy(t => (double)t.m["cells_outside_minus1_1"]).ThenBy(t => (double)t.m["mean_abs_shift"]).First().v;
var heldTable = (Dictionary<string, object>)table["held_out_all_pairs"];
var hc = (Dictionary<string, object>)heldTable[chosen.Name];
double heldCosAuc = (double)((Dictionary<string, object>)heldTable["cosine"])["auc"];
report["chosen"] = chosen.Name;
report["chosen_variant"] = chosen.X.Options.Describe();
report["chosen_by"] = "on the fit pairs only: meets the three targets (mean |xCos - cos| <= 0.05, agreement >= 97 %, AUC >= cosine AUC - 0.003); of those the ones with <= 5 % of map cells outside [-1, 1] (else the fewest); then the smallest mean |shift|";
report["held_out_targets"] = new Dictionary<string, object>
{
    ["mean_abs_xcos_minus_cosine_le_0.05"] = (double)hc["mean_abs_xcos_minus_cosine"] <= 0.05,
    ["agreement_ge_0.97"] = (double)hc["agreement_at_threshold"] >= 0.97,
    ["auc_ge_cosine_auc_minus_0.003"] = (double)hc["auc"] >= heldCosAuc - 0.003,
};
int fitSame = fit.Count(p => p.Same);
report["threshold_source"] = $"best balanced accuracy of the cosine on the {fit.Count} pairs ({fitSame} same-person, {fit.Count - fitSame} different) of all photos of the 6 fit identities of dev-faces ({string.Join(", ", FitIdentities)}): middle of the best run; scripts/real-faces/Calibrate.cs";
report["measurements"] = table;

var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
Console.WriteLine(json);
if (write)
{
    desc.Attention = chosen.X.Options.Attention.ToString().ToLowerInvariant();
    desc.Centre = chosen.X.Options.Centre;
    desc.XcosScale = Math.Round(chosen.A, 6);
    desc.XcosOffset = Math.Round(chosen.B, 6);
    desc.XcosMatchCosine = chosen.X.Options.MatchCosine;
    desc.XcosCalibrationSource = chosen.A == 1 && chosen.B == 0 ? null
        : $"least squares of the cosine on xCos over the {fit.Count} pairs of the 6 fit identities of dev-faces; chosen among {variants.Count} variants ({chosen.Name}); data/fr_feature/identity_calibration.json, scripts/real-faces/Calibrate.cs";
    desc.Threshold = threshold;
    desc.ThresholdSource = (string)report["threshold_source"];
    desc.Save(descPath);
    File.WriteAllText(Path.Combine(dataDir, "identity_calibration.json"), json + "\n");
    Console.WriteLine($"wrote {descPath} ({chosen.X.Options.Describe()}, threshold {threshold}) and identity_calibration.json");
}

static (double A, double B) LeastSquares(double[] x, double[] y)
{
    double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0;
    for (int i = 0; i < x.Length; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); }
    double a = sxy / sxx;
    return (a, my - a * mx);
}

static double BestBalancedThreshold(double[] s, bool[] y)
{
    var sorted = s.Distinct().Order().ToArray();
    var cands = sorted.Zip(sorted.Skip(1), (u, v) => (u + v) / 2).ToArray();
    int nSame = y.Count(v => v), nDiff = y.Length - nSame;
    var acc = cands.Select(t =>
    {
        int tp = 0, tn = 0;
        for (int i = 0; i < s.Length; i++) { if (y[i] && s[i] >= t) tp++; else if (!y[i] && s[i] < t) tn++; }
        return 0.5 * tp / nSame + 0.5 * tn / nDiff;
    }).ToArray();
    double best = acc.Max();
    int first = Array.FindIndex(acc, v => v >= best - 1e-12), last = first;
    while (last + 1 < acc.Length && acc[last + 1] >= best - 1e-12) last++;
    // middle of the run: the halfway point between the scores that bound it
    return (sorted[first] + sorted[last + 1]) / 2;
}

static double Rate(double[] s, bool[] y, double t, bool same)
{
    int n = 0, err = 0;
    for (int i = 0; i < s.Length; i++)
        if (y[i] == same) { n++; if (same ? s[i] < t : s[i] >= t) err++; }
    return n == 0 ? double.NaN : (double)err / n;
}

static double Pearson(double[] a, double[] b)
{
    double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < a.Length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb); }
    return sab / Math.Sqrt(saa * sbb);
}
