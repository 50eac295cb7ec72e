using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.MLNet;
using Xcos.ML.Verification;

// Usage: snippet <pairs.tsv> <out.tsv>
// The README's "An ML.NET pipeline" snippet on a TSV of pairs (file1, file2, same; paths relative to the TSV's folder): Fit,
// Transform, Evaluate, EvaluateVerification, each timed; writes one row per pair (file1, file2, cosine, score,
// predicted) and prints the seconds of each step.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: snippet <pairs.tsv> <out.tsv>");
    return 2;
}
var dir = Path.GetDirectoryName(Path.GetFullPath(args[0]))!;
var rows = File.ReadAllLines(args[0]).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t'))
    .Select(f => new PairRow { ImagePath1 = Path.Combine(dir, f[0]), ImagePath2 = Path.Combine(dir, f[1]), Label = f[2] == "1" }).ToList();

var total = Stopwatch.StartNew();
var clock = Stopwatch.StartNew();
double Lap() { var s = clock.Elapsed.TotalSeconds; clock.Restart(); return s; }

var ml = new MLContext(seed: 0);
var pairs = ml.Data.LoadFromEnumerable(rows);
var pipeline = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
{
    FaceModel = FaceModelDescriptor.FrFeature(),
    Xcos = XcosVariant.Weights,
});
var model = pipeline.Fit(pairs);
double fit = Lap();
var scored = ml.Data.Cache(model.Transform(pairs));       // the result is lazy: cache it when it is read more than once
double transform = Lap();
var metrics = ml.BinaryClassification.Evaluate(scored);
double evaluate = Lap();
var report = ml.EvaluateVerification(scored);
double verification = Lap();
double all = total.Elapsed.TotalSeconds;
// When the snippet's four steps ended (the run script subtracts the process start): reading more columns below for
// the comparison file makes more passes over the lazy result, which are not the snippet's work.
double endUnix = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

var cosine = scored.GetColumn<float>("Cosine").ToArray();
var score = scored.GetColumn<float>("Score").ToArray();
var predicted = scored.GetColumn<bool>("PredictedLabel").ToArray();
using (var w = new StreamWriter(args[1]))
{
    w.WriteLine("file1\tfile2\tcosine\tscore\tpredicted");
    for (int i = 0; i < rows.Count; i++)
        w.WriteLine(string.Join('\t', rows[i].ImagePath1, rows[i].ImagePath2, cosine[i].ToString("R", CultureInfo.InvariantCulture),
            score[i].ToString("R", CultureInfo.InvariantCulture), predicted[i] ? "1" : "0"));
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"pairs\": {rows.Count}, \"fit_s\": {fit:F2}, \"transform_s\": {transform:F2}, \"evaluate_s\": {evaluate:F2}, \"evaluate_verification_s\": {verification:F2}, \"total_s\": {all:F2}, \"end_unix\": {endUnix:F3}, \"accuracy\": {metrics.Accuracy:F4}, \"auc\": {metrics.AreaUnderRocCurve:F5}, \"skipped\": {report.Skipped.Count}}}"));
return 0;

internal sealed class PairRow
{
    public string ImagePath1 { get; set; } = "";
    public string ImagePath2 { get; set; } = "";
    public bool Label { get; set; }
}
