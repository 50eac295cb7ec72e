using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Metrics;

namespace Xcos.Cli;

/// <summary>Feeds scored pairs of `xcos eval` into the library's HTML evaluation report.</summary>
internal static class ReportWriter
{
    public static string Write(string dir, string dataName, IReadOnlyList<Commands.EvalCommand.Scored> scored, Func<string, Xcos.ML.Images.RgbImage?> face,
        VerificationReport xcos, VerificationReport cosine, string cosineSource, VerificationOptions protocol)
    {
        var result = EvaluationReport.Write(dir, new EvaluationReportInput
        {
            XcosScores = scored.Select(s => s.Xcos).ToArray(),
            CosineScores = scored.Select(s => s.Cosine).ToArray(),
            Same = scored.Select(s => s.Pair.Same).ToArray(),
            PairNames = scored.Select(s => $"row {s.Row}: {Path.GetFileName(s.Pair.Id1)} | {Path.GetFileName(s.Pair.Id2)}").ToArray(),
            Title = $"xCos evaluation: {dataName}",
            Description = $"{scored.Count} pairs. xCos 10-fold accuracy {xcos.AccuracyMean:F4}, AUC {xcos.Auc:F4}; " +
                          $"plain cosine ({cosineSource}) 10-fold accuracy {cosine.AccuracyMean:F4}, AUC {cosine.Auc:F4}.",
            Explain = (i, threshold) =>
            {
                var s = scored[i];
                var a = face(s.Pair.Id1) ?? throw new InvalidOperationException($"row {s.Row}: {s.Pair.Id1} could not be aligned again for the figure");
                var b = face(s.Pair.Id2) ?? throw new InvalidOperationException($"row {s.Row}: {s.Pair.Id2} could not be aligned again for the figure");
                return new ExplanationInput
                {
                    Face1Rgb = a.Pixels, Face1Width = a.Width, Face1Height = a.Height,
                    Face2Rgb = b.Pixels, Face2Width = b.Width, Face2Height = b.Height,
                    CosMap = s.CosMap, Attention = s.Attention, Score = s.Xcos, Cosine = s.Cosine, Threshold = threshold,
                    Same = s.Xcos > threshold,
                    Title = s.Pair.Same ? "labelled: same person" : "labelled: different people",
                    Face1Label = Path.GetFileName(s.Pair.Id1), Face2Label = Path.GetFileName(s.Pair.Id2),
                    ExtraMap = s.Contributions, ExtraMapTitle = s.Contributions is null ? null : "Contribution to the cosine",
                };
            },
        }, new EvaluationReportOptions { Verification = protocol });
        return result.IndexPath;
    }
}
