using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.Data;
using Xcos.ML.Explain;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Torch.Config;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos eval --pairs FILE...`: the 10-fold protocol, AUC, TAR@FAR and EER for xCos and the plain cosine on pair sets
/// (.bin, LFW pairs.txt or pair TSV, told apart by content), or on a config's test_data_loaders; several sets (or
/// --flip) print one table. Rows that cannot be scored are counted in `skipped` and listed, never dropped silently.
/// </summary>
internal static class EvalCommand
{
    public sealed record MetricsJson(double Auc, double Accuracy, double AccuracyStd, double Threshold,
        [property: JsonPropertyName("tar_at_far_1e-3")] double TarAtFar1e3,
        [property: JsonPropertyName("tar_at_far_1e-4")] double TarAtFar1e4,
        double Eer)
    {
        public static MetricsJson From(VerificationReport r) =>
            new(r.Auc, r.AccuracyMean, r.AccuracyStd, r.ThresholdMean, r.TarAtFar1e3, r.TarAtFar1e4, r.Eer);
    }

    public sealed record SkippedJson(int Row, string Id1, string Id2, string Reason);

    public sealed record EvalJson(int Pairs, int Skipped, MetricsJson Xcos, MetricsJson Cosine, string CosineSource, SkippedJson[] SkippedRows, string? Report);

    public sealed record SetJson(string DataSet, string Source, EvalJson Result);

    public sealed record BenchmarkJson(bool Flip, SetJson[] Sets);

    public static Command Create()
    {
        var pairs = new Option<FileInfo[]>("--pairs") { Description = "Pair set(s): InsightFace .bin, LFW pairs.txt or a TSV (file1, file2, same); several give one table", AllowMultipleArgumentsPerToken = true };
        var config = new Option<FileInfo?>("--config") { Description = "Config in the original xCos schema: its test_data_loaders (<data_dir>/<name>.bin) are the pair sets" };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Folder the pair file's image paths are relative to (default: the pair file's folder)" };
        var model = new ModelArgs();
        var real = new RealFaceArgs();
        var aligned = new Option<bool>("--aligned") { Description = "Images are aligned 112x112 faces (no detection; .bin sets are)" };
        var flip = new Option<bool>("--flip") { Description = "Flip test-time augmentation: each face is embedded as image + mirrored image" };
        var maxPairs = new Option<int?>("--max-pairs") { Description = "Evaluate only the first N pairs" };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Write an HTML report (ROC, histograms, worst errors) to this folder (one subfolder per set when several)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var scoresFile = new Option<FileInfo?>("--scores") { Description = "Write one TSV row per pair (of every set): file1, file2, same, xcos, cosine, status, variant" };
        var cmd = new Command("eval", "Evaluate xCos and the plain cosine on one or more pair sets with the 10-fold protocol");
        model.AddTo(cmd);
        real.AddTo(cmd);
        foreach (var o in new Option[] { pairs, config, root, aligned, flip, maxPairs, report, json, scoresFile }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var files = (p.GetValue(pairs) ?? []).ToList();
            if (p.GetValue(config) is { } cfg)
            {
                if (!cfg.Exists) throw new CliException($"{cfg.FullName}: config file not found.", ExitCodes.Usage);
                OriginalConfig recipe;
                try { recipe = OriginalConfig.Load(cfg.FullName); }
                catch (InvalidDataException e) { throw new CliException(e.Message, ExitCodes.Usage); }
                if (recipe.Warning is { } warning) Console.Error.WriteLine("warning: " + warning);
                if (recipe.TestSets.Count == 0) throw new CliException($"{cfg.FullName}: no test_data_loaders to evaluate.", ExitCodes.Usage);
                files.AddRange(recipe.TestSets.Select(f => new FileInfo(f)));
            }
            if (files.Count == 0) throw new CliException("give --pairs FILE (one or more) or --config with test_data_loaders.", ExitCodes.Usage);
            foreach (var f in files)
                if (!f.Exists) throw new CliException($"{f.FullName}: pair file not found.");
            // fail before the scoring, not after it
            if (p.GetValue(scoresFile) is { } scoresOut)
            {
                if (scoresOut.Directory is { Exists: false } scoresDir)
                    throw new CliException($"{scoresOut.FullName}: cannot write the pair scores: folder {scoresDir.FullName} does not exist.");
                var inputs = files.Select(f => f.FullName).Concat(p.GetValue(config) is { } c ? [c.FullName] : []);
                if (inputs.FirstOrDefault(i => AtomicFile.SameFile(i, scoresOut.FullName)) is { } input)
                    throw new CliException($"--scores {scoresOut.FullName} is one of the inputs ({input}); nothing was written: choose another file.", ExitCodes.Usage);
                try { AtomicFile.CheckWritable(scoresOut.FullName); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{scoresOut.FullName}: cannot write the pair scores: {e.Message}"); }
            }
            bool photos = p.GetValue(model.Checkpoint) is null, isAligned = p.GetValue(aligned), doFlip = p.GetValue(flip);
            if (!photos) real.RejectInt8(p);
            using var session = VerifierSession.Open(p, model, real, isAligned, threshold: null, flip: doFlip);
            var verifier = session.Verifier;
            string variant = verifier is OnnxFacePairVerifier onnx ? onnx.VariantDescription : verifier.Variant.ToText();
            var scoreRows = new List<PairScoreRow>();
            var results = new List<(FileInfo File, EvalJson Json, BenchmarkRow Row)>();
            foreach (var file in files)
            {
                var set = PairSetReader.Load(file.FullName, p.GetValue(root)?.FullName);
                var e = CliProgress.Run(photos ? "detect, align, embed, explain" : "scoring pairs", Math.Min(set.Count, p.GetValue(maxPairs) ?? int.MaxValue),
                    advance => PairSetEvaluation.Evaluate(verifier, set, p.GetValue(maxPairs) ?? int.MaxValue, new Advance(advance)));
                scoreRows.AddRange(e.ScoreRows());
                string? reportPath = null;
                if (p.GetValue(report) is { } dir)
                    reportPath = WriteReport(verifier, e, files.Count == 1 ? dir.FullName : Path.Combine(dir.FullName, Path.GetFileNameWithoutExtension(file.Name)), file.Name);
                var skipped = e.Unscored.Select(u => new SkippedJson(u.Row, u.Id1, u.Id2, u.Reason)).ToArray();
                results.Add((file, new EvalJson(e.Count, skipped.Length, MetricsJson.From(e.Xcos), MetricsJson.From(e.Cosine), verifier.CosineSource, skipped, reportPath),
                    new BenchmarkRow(Path.GetFileNameWithoutExtension(file.Name), file.FullName, e.Scored.Count, skipped.Length, e.Xcos, e.Cosine)));
            }
            if (p.GetValue(scoresFile) is { } sf)
            {
                try { PairScoresFile.Write(sf.FullName, variant, scoreRows); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{sf.FullName}: cannot write the pair scores: {e.Message}"); }
            }
            if (results.Count == 1 && !doFlip && p.GetValue(config) is null)
            {
                var (file, result, row) = results[0];
                var (xr, cr, skipped) = (row.Xcos, row.Cosine, result.SkippedRows);
                if (p.GetValue(json)) Cli.WriteJson(result);
                else
                {
                    Console.WriteLine($"{file.Name}: {row.Pairs} pairs scored, {skipped.Length} skipped");
                    Console.WriteLine($"  xCos             AUC {xr.Auc:F4}  10-fold accuracy {xr.AccuracyMean:F4} ± {xr.AccuracyStd:F4}  EER {xr.Eer:F4}  TAR@FAR1e-3 {xr.TarAtFar1e3:F4}");
                    Console.WriteLine($"  cosine ({result.CosineSource,-6}) AUC {cr.Auc:F4}  10-fold accuracy {cr.AccuracyMean:F4} ± {cr.AccuracyStd:F4}  EER {cr.Eer:F4}  TAR@FAR1e-3 {cr.TarAtFar1e3:F4}");
                    foreach (var s in skipped.Take(10)) Console.WriteLine($"  skipped {(file.Extension.Equals(".bin", StringComparison.OrdinalIgnoreCase) ? "pair" : "line")} {s.Row} ({s.Id1}, {s.Id2}): {s.Reason}");
                    if (result.Report is not null) Console.WriteLine($"report: {result.Report}");
                }
                return ExitCodes.Ok;
            }
            if (p.GetValue(json)) Cli.WriteJson(new BenchmarkJson(doFlip, results.Select(r => new SetJson(r.Row.DataSet, r.File.FullName, r.Json)).ToArray()));
            else
            {
                Console.Write(BenchmarkTable.Format(results.Select(r => r.Row).ToList(), doFlip));
                foreach (var r in results.Where(r => r.Json.Report is not null)) Console.WriteLine($"report ({r.Row.DataSet}): {r.Json.Report}");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>The HTML report of one evaluated set (ROC, histograms, worst errors); returns its index page.</summary>
    private static string WriteReport(IFacePairVerifier verifier, PairSetEvaluation e, string folder, string setName)
    {
        var set = e.Set;
        var rows = e.Scored;
        var input = FacePairReport.Input(verifier, rows.Select(i => e.Ids[i]).ToArray(), rows.Select(i => e.Verified[i]).ToArray(), e.ScoredSame,
            id => ImageIO.Load(set.ReadImage(id), name: id),
            rows.Select(i => $"row {set.RowOf(i)}: {Path.GetFileName(e.Ids[i].Id1)} | {Path.GetFileName(e.Ids[i].Id2)}").ToArray(),
            $"xCos evaluation: {setName}",
            $"{rows.Count} pairs. xCos 10-fold accuracy {e.Xcos.AccuracyMean:F4}, AUC {e.Xcos.Auc:F4}; " +
            $"plain cosine ({verifier.CosineSource}) 10-fold accuracy {e.Cosine.AccuracyMean:F4}, AUC {e.Cosine.Auc:F4}.");
        return EvaluationReport.Write(folder, input, new EvaluationReportOptions { Verification = e.Protocol }).IndexPath;
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
