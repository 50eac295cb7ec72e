using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.MLNet;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The explaining step: a panel figure and an overlay for the most telling held-out pairs (the worst false reject and
/// false accept, the clearest same and different pair, then the hardest correct ones), and the HTML report.
/// </summary>
internal static class DemoExplanations
{
    /// <summary>Writes the figures to <paramref name="figureDirectory"/> and the report to <paramref name="reportDirectory"/>.</summary>
    /// <returns>The figures written and the report's index.html.</returns>
    public static (IReadOnlyList<string> Figures, string Report) Write(DemoData data, DemoEvaluation evaluation, int figures,
        string figureDirectory, string reportDirectory, string title, string description, VerificationOptions verification, Action<int, int, string> progress)
    {
        var rows = data.Rows;
        var predictions = evaluation.Predictions;
        var same = data.Same;
        var faces = new Dictionary<string, RgbImage>();
        RgbImage Face(string path) { lock (faces) return faces.TryGetValue(path, out var f) ? f : faces[path] = ImageIO.Load(path); }
        ExplanationInput Explain(int i, double threshold, string? caption = null) => new()
        {
            Face1Rgb = Face(rows[i].ImagePath1).Pixels, Face2Rgb = Face(rows[i].ImagePath2).Pixels,
            CosMap = predictions[i].CosineMap, Attention = predictions[i].Attention,
            Score = predictions[i].Xcos, Cosine = predictions[i].Cosine, Threshold = threshold, Same = predictions[i].PredictedLabel,
            Title = caption ?? (same[i] ? "held-out identities, labelled: same" : "held-out identities, labelled: different"),
            Face1Label = data.Relative(rows[i].ImagePath1), Face2Label = data.Relative(rows[i].ImagePath2),
        };

        Directory.CreateDirectory(figureDirectory);
        var written = new List<string>();
        var picks = PickFigures(predictions, same, figures);
        for (int k = 0; k < picks.Count; k++)
        {
            var (i, kind) = picks[k];
            var input = Explain(i, evaluation.Xcos.BestThreshold, $"{kind} (pair {i})");
            string stem = Path.Combine(figureDirectory, $"pair{i:D4}_{kind.Replace(' ', '_')}");
            ExplanationFigure.Save(stem + ".png", input);
            ExplanationFigure.SaveOverlay(stem + "_overlay.png", input);
            written.Add(stem + ".png");
            written.Add(stem + "_overlay.png");
            progress(k + 1, picks.Count + 1, "explanation figures");
        }
        var report = EvaluationReport.Write(reportDirectory, new EvaluationReportInput
        {
            XcosScores = predictions.Select(p => (double)p.Xcos).ToArray(),
            CosineScores = predictions.Select(p => (double)p.Cosine).ToArray(),
            Same = same,
            PairNames = rows.Select((r, i) => $"pair {i}: {data.Relative(r.ImagePath1)} | {data.Relative(r.ImagePath2)}").ToArray(),
            Explain = (i, threshold) => Explain(i, threshold),
            Title = title,
            Description = description,
        }, new EvaluationReportOptions { Verification = verification });
        progress(picks.Count + 1, picks.Count + 1, "HTML report");
        return (written, report.IndexPath);
    }

    /// <summary>The most telling pairs: the worst false reject and false accept, the clearest same and different pair.</summary>
    internal static List<(int Index, string Kind)> PickFigures(FacePairPrediction[] p, bool[] same, int count)
    {
        var candidates = new List<(int, string)>();
        void Add(IEnumerable<int> indices, string kind)
        {
            foreach (int i in indices.Take(1))
                if (!candidates.Any(c => c.Item1 == i)) candidates.Add((i, kind));
        }
        var idx = Enumerable.Range(0, p.Length).ToArray();
        Add(idx.Where(i => same[i]).OrderByDescending(i => p[i].Xcos), "clearest same");
        Add(idx.Where(i => !same[i]).OrderBy(i => p[i].Xcos), "clearest different");
        Add(idx.Where(i => same[i] && !p[i].PredictedLabel).OrderBy(i => p[i].Xcos), "false reject");
        Add(idx.Where(i => !same[i] && p[i].PredictedLabel).OrderByDescending(i => p[i].Xcos), "false accept");
        // then the hardest correct ones, nearest the decision
        Add(idx.Where(i => same[i] && p[i].PredictedLabel).OrderBy(i => p[i].Xcos), "hard same");
        Add(idx.Where(i => !same[i] && !p[i].PredictedLabel).OrderByDescending(i => p[i].Xcos), "hard different");
        return candidates.Take(count).ToList();
    }
}
