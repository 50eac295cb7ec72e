using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Xcos.ML.Figures;
using Xcos.ML.Metrics;

namespace Xcos.ML.Explain;

/// <summary>
/// A self-contained HTML evaluation page: ROC curves and metrics of xCos and plain cosine, score histograms with the
/// threshold, and explanation figures of the worst false accepts and false rejects. Plots are PNG files beside
/// index.html (relative links); every file is written atomically and index.html last, so a page that exists is complete.
/// </summary>
public static class EvaluationReport
{
    private static readonly JsonSerializerOptions MetricsJson = new()
    {
        WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Writes the page and its images into <paramref name="dir"/> (created when missing).</summary>
    /// <exception cref="ArgumentException">Lengths differ, a score is not finite, or one class is missing.</exception>
    public static EvaluationReportResult Write(string dir, EvaluationReportInput input, EvaluationReportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        ArgumentNullException.ThrowIfNull(input);
        var o = options ?? new EvaluationReportOptions();
        if (o.WorstCount < 0) throw new ArgumentOutOfRangeException(nameof(options), o.WorstCount, "WorstCount must be non-negative");
        int n = input.Same.Length;
        if (input.XcosScores.Length != n || input.CosineScores.Length != n)
            throw new ArgumentException($"{input.XcosScores.Length} xCos scores, {input.CosineScores.Length} cosine scores and {n} labels: the counts must match");
        if (input.PairNames is not null && input.PairNames.Count != n)
            throw new ArgumentException($"{input.PairNames.Count} pair names for {n} pairs");
        for (int i = 0; i < n; i++)
            if (!double.IsFinite(input.XcosScores[i]) || !double.IsFinite(input.CosineScores[i]))
                throw new ArgumentException($"pair {i}: scores must be finite (xCos {input.XcosScores[i]}, cosine {input.CosineScores[i]})");

        var xr = VerificationMetrics.Evaluate(input.XcosScores, input.Same, o.Verification);
        var cr = VerificationMetrics.Evaluate(input.CosineScores, input.Same, o.Verification);
        var xroc = VerificationMetrics.Roc(input.XcosScores, input.Same);
        var croc = VerificationMetrics.Roc(input.CosineScores, input.Same);
        double threshold = xr.BestThreshold;

        var full = Path.GetFullPath(dir);
        Directory.CreateDirectory(full);
        var files = new List<string>();
        void Png(string name, byte[] bytes) { var p = Path.Combine(full, name); RgbPng.WriteAtomic(p, bytes); files.Add(p); }

        Png("roc.png", LinePlot.RenderPng(
            [new PlotSeries("xCos", xroc.FalsePositiveRates, xroc.TruePositiveRates), new PlotSeries("cosine", croc.FalsePositiveRates, croc.TruePositiveRates)],
            new LinePlotOptions { Title = "ROC", XLabel = "false accept rate", YLabel = "true accept rate", Diagonal = true, XMin = 0, XMax = 1, YMin = 0, YMax = 1.02 }));
        foreach (var (file, name, scores, report) in new[] { ("hist_xcos.png", "xCos", input.XcosScores, xr), ("hist_cosine.png", "cosine", input.CosineScores, cr) })
        {
            var sameScores = scores.Where((_, i) => input.Same[i]).ToArray();
            var diffScores = scores.Where((_, i) => !input.Same[i]).ToArray();
            Png(file, Histogram.RenderPng(sameScores, diffScores, new HistogramOptions
            {
                Title = name + " scores", XLabel = name, YLabel = "density", Bins = o.Bins,
                Threshold = report.BestThreshold, ThresholdLabel = "best threshold",
            }));
        }
        if (input.Occlusion is not null) Png("occlusion.png", input.Occlusion.RenderPlotPng());

        // "same" when score > threshold, as the k-fold protocol decides.
        var falseAccepts = Enumerable.Range(0, n).Where(i => !input.Same[i] && input.XcosScores[i] > threshold)
            .OrderByDescending(i => input.XcosScores[i]).Take(o.WorstCount).ToArray();
        var falseRejects = Enumerable.Range(0, n).Where(i => input.Same[i] && input.XcosScores[i] <= threshold)
            .OrderBy(i => input.XcosScores[i]).Take(o.WorstCount).ToArray();
        var figures = new Dictionary<int, string>();
        if (input.Explain is not null)
        {
            foreach (var (list, prefix, caption) in new[] { (falseAccepts, "false_accept", "False accept"), (falseRejects, "false_reject", "False reject") })
                for (int r = 0; r < list.Length; r++)
                {
                    var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{r + 1:D2}.png");
                    var fig = input.Explain(list[r], threshold)
                        ?? throw new InvalidOperationException($"Explain returned null for pair {list[r]}");
                    var pairName = input.PairNames?[list[r]] ?? "pair " + list[r].ToString(CultureInfo.InvariantCulture);
                    fig = WithTitle(fig, string.Create(CultureInfo.InvariantCulture, $"{caption} #{r + 1}: {fig.Title ?? pairName}"));
                    Png(name, ExplanationFigure.RenderPng(fig, o.Figure));
                    figures[list[r]] = name;
                }
        }

        var json = Path.Combine(full, "metrics.json");
        WriteTextAtomic(json, JsonSerializer.Serialize(new { xcos = xr, cosine = cr, threshold, occlusion = input.Occlusion },
            MetricsJson));
        files.Add(json);

        var html = Html(input, o, xr, cr, threshold, falseAccepts, falseRejects, figures);
        var index = Path.Combine(full, "index.html");
        WriteTextAtomic(index, html);
        files.Add(index);
        return new EvaluationReportResult(index, files, xr, cr, threshold, falseAccepts, falseRejects);
    }

    private static ExplanationInput WithTitle(ExplanationInput e, string title) => new()
    {
        Face1Rgb = e.Face1Rgb, Face1Width = e.Face1Width, Face1Height = e.Face1Height,
        Face2Rgb = e.Face2Rgb, Face2Width = e.Face2Width, Face2Height = e.Face2Height,
        CosMap = e.CosMap, Attention = e.Attention, Score = e.Score, Cosine = e.Cosine, Threshold = e.Threshold,
        Same = e.Same, Title = title, Face1Label = e.Face1Label, Face2Label = e.Face2Label,
        ExtraMap = e.ExtraMap, ExtraMapTitle = e.ExtraMapTitle,
    };

    private static void WriteTextAtomic(string path, string text) => RgbPng.WriteAtomic(path, new UTF8Encoding(false).GetBytes(text));

    private static string F(double v, string format = "0.0000") => v.ToString(format, CultureInfo.InvariantCulture);

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Html(EvaluationReportInput input, EvaluationReportOptions o, VerificationReport xr, VerificationReport cr,
        double threshold, int[] falseAccepts, int[] falseRejects, Dictionary<int, string> figures)
    {
        var title = input.Title ?? "xCos evaluation";
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(title)).Append("</title>\n");
        sb.Append("<style>body{font-family:sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222}")
          .Append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 10px;text-align:right}")
          .Append("th:first-child,td:first-child{text-align:left}img{max-width:100%;margin:0.5em 0}.row img{max-width:49%}")
          .Append(".note{color:#555;font-size:0.9em}</style></head><body>\n");
        sb.Append("<h1>").Append(E(title)).Append("</h1>\n");
        if (input.Description is not null) sb.Append("<p>").Append(E(input.Description)).Append("</p>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<p>{xr.Pairs} pairs: {xr.SamePairs} same, {xr.DifferentPairs} different; {xr.Folds}-fold protocol.</p>\n");

        sb.Append("<h2>Metrics</h2>\n<table><tr><th>metric</th><th>xCos</th><th>cosine</th></tr>\n");
        void Row(string name, Func<VerificationReport, string> f) => sb.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(f(xr)).Append("</td><td>").Append(f(cr)).Append("</td></tr>\n");
        Row($"{xr.Folds}-fold accuracy (mean ± std)", r => F(r.AccuracyMean) + " ± " + F(r.AccuracyStd));
        Row("mean fold threshold", r => F(r.ThresholdMean, "0.000"));
        Row("best accuracy (all pairs)", r => F(r.BestAccuracy));
        Row("best threshold", r => F(r.BestThreshold, "0.000"));
        Row("ROC AUC", r => F(r.Auc));
        Row("EER", r => F(r.Eer));
        foreach (var t in xr.TarAtFar.Select(t => t.TargetFar))
            Row("TAR @ FAR " + t.ToString("0.#####", CultureInfo.InvariantCulture),
                r => F(r.TarAtFar.FirstOrDefault(x => x.TargetFar == t)?.Tar ?? double.NaN));
        sb.Append("</table>\n");

        sb.Append("<h2>ROC curves</h2>\n<img src=\"roc.png\" alt=\"ROC curves of xCos and cosine\">\n");
        sb.Append("<h2>Score distributions</h2>\n<div class=\"row\"><img src=\"hist_xcos.png\" alt=\"xCos score histogram\"> ")
          .Append("<img src=\"hist_cosine.png\" alt=\"cosine score histogram\"></div>\n");

        if (input.Occlusion is { } occ)
        {
            sb.Append("<h2>Occlusion robustness</h2>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Face {occ.Face} of every pair covered by random blobs ({occ.Fill}); {xr.Folds}-fold accuracy.</p>\n");
            sb.Append("<table><tr><th>occluded</th>");
            foreach (var s in occ.Series) sb.Append("<th>").Append(E(s.ScoreName)).Append("</th>");
            sb.Append("</tr>\n");
            for (int l = 0; l < occ.Levels.Length; l++)
            {
                sb.Append("<tr><td>").Append(F(occ.Levels[l] * 100, "0.#")).Append(" %</td>");
                foreach (var s in occ.Series) sb.Append("<td>").Append(F(s.AccuracyMean[l])).Append(" ± ").Append(F(s.AccuracyStd[l])).Append("</td>");
                sb.Append("</tr>\n");
            }
            sb.Append("</table>\n<img src=\"occlusion.png\" alt=\"accuracy versus occlusion\">\n");
        }

        if (input.Faithfulness is { } fs)
        {
            sb.Append("<h2>Faithfulness</h2>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Normalised AUC of the score while patches of one face are deleted (lower = more faithful) or inserted (higher = more faithful), mean over {fs.Pairs} pairs.</p>\n");
            sb.Append("<table><tr><th>method</th><th>score</th><th>deletion AUC</th><th>insertion AUC</th></tr>\n");
            foreach (var g in fs.Rows.GroupBy(r => (r.Method, r.ScoreName)))
                sb.Append("<tr><td>").Append(E(g.Key.Method)).Append("</td><td>").Append(E(g.Key.ScoreName)).Append("</td><td>")
                  .Append(F(fs.Auc(g.Key.Method, FaithfulnessKind.Deletion, g.Key.ScoreName))).Append("</td><td>")
                  .Append(F(fs.Auc(g.Key.Method, FaithfulnessKind.Insertion, g.Key.ScoreName))).Append("</td></tr>\n");
            sb.Append("</table>\n");
        }

        sb.Append(CultureInfo.InvariantCulture, $"<h2>Errors at the xCos threshold {F(threshold, "0.000")}</h2>\n");
        sb.Append("<p class=\"note\">Threshold of the best accuracy over all pairs; a pair is accepted when its xCos score is above it.</p>\n");
        foreach (var (list, heading, none) in new[] {
            (falseAccepts, "Worst false accepts (different people, highest xCos)", "No false accepts."),
            (falseRejects, "Worst false rejects (same person, lowest xCos)", "No false rejects.") })
        {
            sb.Append("<h3>").Append(E(heading)).Append("</h3>\n");
            if (list.Length == 0) { sb.Append("<p>").Append(none).Append("</p>\n"); continue; }
            foreach (var i in list)
            {
                string name = input.PairNames?[i] ?? "pair " + i.ToString(CultureInfo.InvariantCulture);
                sb.Append("<p>").Append(E(name)).Append(CultureInfo.InvariantCulture, $": xCos {F(input.XcosScores[i], "0.000")}, cosine {F(input.CosineScores[i], "0.000")}</p>\n");
                if (figures.TryGetValue(i, out var png))
                    sb.Append("<img src=\"").Append(E(png)).Append("\" alt=\"explanation of ").Append(E(name)).Append("\">\n");
            }
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }
}
