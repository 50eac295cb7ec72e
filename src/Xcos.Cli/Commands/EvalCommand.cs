using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.Data;
using Xcos.ML.Explain;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos eval --pairs FILE`: the 10-fold protocol, AUC, TAR@FAR and EER for xCos and the plain cosine on a pair set
/// (.bin, LFW pairs.txt or pair TSV, told apart by content). Rows that cannot be scored are counted in `skipped`
/// and listed, never dropped silently.
/// </summary>
internal static class EvalCommand
{
    public sealed record MetricsJson(
        [property: JsonPropertyName("auc")] double Auc,
        [property: JsonPropertyName("accuracy")] double Accuracy,
        [property: JsonPropertyName("accuracy_std")] double AccuracyStd,
        [property: JsonPropertyName("threshold")] double Threshold,
        [property: JsonPropertyName("tar_at_far_1e-3")] double TarAtFar1e3,
        [property: JsonPropertyName("tar_at_far_1e-4")] double TarAtFar1e4,
        [property: JsonPropertyName("eer")] double Eer)
    {
        public static MetricsJson From(VerificationReport r) =>
            new(r.Auc, r.AccuracyMean, r.AccuracyStd, r.ThresholdMean, r.TarAtFar1e3, r.TarAtFar1e4, r.Eer);
    }

    public sealed record SkippedJson(
        [property: JsonPropertyName("row")] int Row,
        [property: JsonPropertyName("id1")] string Id1,
        [property: JsonPropertyName("id2")] string Id2,
        [property: JsonPropertyName("reason")] string Reason);

    public sealed record EvalJson(
        [property: JsonPropertyName("pairs")] int Pairs,
        [property: JsonPropertyName("skipped")] int Skipped,
        [property: JsonPropertyName("xcos")] MetricsJson Xcos,
        [property: JsonPropertyName("cosine")] MetricsJson Cosine,
        [property: JsonPropertyName("cosine_source")] string CosineSource,
        [property: JsonPropertyName("skipped_rows")] SkippedJson[] SkippedRows,
        [property: JsonPropertyName("report")] string? Report);

    public static Command Create()
    {
        var pairs = new Option<FileInfo>("--pairs") { Description = "Pair set: InsightFace .bin, LFW pairs.txt or a TSV (file1, file2, same)", Required = true };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Folder the pair file's image paths are relative to (default: the pair file's folder)" };
        var model = new ModelArgs();
        var real = new RealFaceArgs();
        var aligned = new Option<bool>("--aligned") { Description = "Images are aligned 112x112 faces (no detection)" };
        var maxPairs = new Option<int?>("--max-pairs") { Description = "Evaluate only the first N pairs" };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Write an HTML report (ROC, histograms, worst errors) to this folder" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("eval", "Evaluate xCos and the plain cosine on a pair set with the 10-fold protocol");
        model.AddTo(cmd);
        real.AddTo(cmd);
        foreach (var o in new Option[] { pairs, root, aligned, maxPairs, report, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var file = p.GetValue(pairs)!;
            if (!file.Exists) throw new CliException($"{file.FullName}: pair file not found.");
            var set = PairSetReader.Load(file.FullName, p.GetValue(root)?.FullName);
            int n = Math.Min(set.Count, p.GetValue(maxPairs) ?? int.MaxValue);
            using var session = VerifierSession.Open(p, model, real, p.GetValue(aligned), threshold: null);
            var verifier = session.Verifier;
            var ids = set.Pairs.Take(n).Select(x => (x.Id1, x.Id2)).ToArray();
            Func<string, RgbImage> load = id => ImageIO.Load(set.ReadImage(id), name: id);
            // each distinct image is read, aligned and embedded once (the verifier caches it within the call)
            var verified = CliProgress.Run(p.GetValue(model.Checkpoint) is null ? "detect, align, embed, explain" : "scoring pairs", n,
                advance => verifier.VerifyMany(ids, load, progress: new Advance(advance)));
            var skipped = verified.Select((r, i) => (r, i)).Where(x => !x.r.IsOk)
                .Select(x => new SkippedJson(x.i, ids[x.i].Id1, ids[x.i].Id2, x.r.FailureText!)).ToList();
            var rows = Enumerable.Range(0, n).Where(i => verified[i].IsOk).ToArray();
            var same = rows.Select(i => set.Pairs[i].Same).ToArray();
            if (rows.Length < 2 || same.All(s => s) || same.All(s => !s))
                throw new CliException($"{file.FullName}: {rows.Length} of {n} pairs could be scored; the metrics need both same and different pairs (skipped: {skipped.Count}).");
            // the protocol's 10 folds, fewer only for a set too small to split that way
            var protocol = new VerificationOptions { Folds = Math.Min(10, rows.Length) };
            var xr = VerificationMetrics.Evaluate(rows.Select(i => verified[i].Xcos).ToArray(), same, protocol);
            var cr = VerificationMetrics.Evaluate(rows.Select(i => verified[i].Cosine).ToArray(), same, protocol);
            var cosineSource = verifier.CosineSource;
            string? reportPath = null;
            if (p.GetValue(report) is { } dir)
            {
                var input = FacePairReport.Input(verifier, rows.Select(i => ids[i]).ToArray(), rows.Select(i => verified[i]).ToArray(), same, load,
                    rows.Select(i => $"row {i}: {Path.GetFileName(ids[i].Id1)} | {Path.GetFileName(ids[i].Id2)}").ToArray(),
                    $"xCos evaluation: {file.Name}",
                    $"{rows.Length} pairs. xCos 10-fold accuracy {xr.AccuracyMean:F4}, AUC {xr.Auc:F4}; " +
                    $"plain cosine ({cosineSource}) 10-fold accuracy {cr.AccuracyMean:F4}, AUC {cr.Auc:F4}.");
                reportPath = EvaluationReport.Write(dir.FullName, input, new EvaluationReportOptions { Verification = protocol }).IndexPath;
            }
            var result = new EvalJson(n, skipped.Count, MetricsJson.From(xr), MetricsJson.From(cr), cosineSource, skipped.ToArray(), reportPath);
            if (p.GetValue(json)) Cli.WriteJson(result);
            else
            {
                Console.WriteLine($"{file.Name}: {rows.Length} pairs scored, {skipped.Count} skipped");
                Console.WriteLine($"  xCos             AUC {xr.Auc:F4}  10-fold accuracy {xr.AccuracyMean:F4} ± {xr.AccuracyStd:F4}  EER {xr.Eer:F4}  TAR@FAR1e-3 {xr.TarAtFar1e3:F4}");
                Console.WriteLine($"  cosine ({cosineSource,-6}) AUC {cr.Auc:F4}  10-fold accuracy {cr.AccuracyMean:F4} ± {cr.AccuracyStd:F4}  EER {cr.Eer:F4}  TAR@FAR1e-3 {cr.TarAtFar1e3:F4}");
                foreach (var s in skipped.Take(10)) Console.WriteLine($"  skipped row {s.Row} ({s.Id1}, {s.Id2}): {s.Reason}");
                if (reportPath is not null) Console.WriteLine($"report: {reportPath}");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>Passes the verifier's count of pairs done on to the progress bar as increments.</summary>
    private sealed class Advance(Action<int> advance) : IProgress<int>
    {
        private int _done;

        public void Report(int value)
        {
            advance(value - _done);
            _done = value;
        }
    }
}
