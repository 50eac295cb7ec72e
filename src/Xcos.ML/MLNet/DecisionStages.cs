using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Metrics;

namespace Xcos.ML.MLNet;

/// <summary>
/// The decision part of a verification pipeline in ML.NET's binary-classification convention, shared by the checkpoint
/// scorer (xCos decides) and the photo pipeline (the face model's cosine decides): a margin <c>Score</c>, <c>PredictedLabel</c>
/// (margin &gt; 0) and a Platt <c>Probability</c>, all NaN / false for a row whose faces are not both ok. The score and map
/// columns named in <see cref="Gate"/> are NaN for such a row too (maps NaN-filled, same length), so no failed row carries
/// a believable number. Every stage is an <c>Expression</c>, so the threshold and the calibrator's coefficients are saved
/// in the .zip as text.
/// </summary>
internal sealed record DecisionStages(string Decide, string Score, string? PredictedLabel, string? Probability, string Label,
    string? Status1, string? Status2, XcosThresholdSelection Selection, VerificationOptions Verification)
{
    /// <summary>Score and map columns set to NaN where a face is not ok (gated pipelines only).</summary>
    public IReadOnlyList<string> Gate { get; init; } = [];

    /// <summary>The gate of one score or map column: its value where both faces are ok, else NaN (each slot of a map).</summary>
    public const string GateExpression = "(v, a, b) => a == \"ok\" and b == \"ok\" ? v : na(v)";

    /// <summary>
    /// Fewest labelled pairs of each class (both faces ok) from which Fit chooses a threshold when the model has a
    /// calibrated one: with fewer, the accuracy-best threshold moves with a handful of pairs (on 20 pairs fr_feature's
    /// chosen 0.205 against its calibrated 0.344), so the calibrated threshold is kept.
    /// </summary>
    public const int MinPairsPerClass = 100;

    /// <summary>The output column that records where the threshold came from (the same text in every row; saved in the .zip).</summary>
    public const string ThresholdSourceColumn = "ThresholdSource";

    /// <summary>
    /// The threshold Fit uses and where it came from: <paramref name="given"/> when set; else chosen on the labelled
    /// <paramref name="scores"/> when they hold <see cref="MinPairsPerClass"/> of each class or there is no
    /// <paramref name="calibrated"/> threshold to keep; else the calibrated one.
    /// </summary>
    public (float Threshold, string Source) Resolve(float? given, double[]? scores, bool[]? same, float? calibrated, string calibratedFrom)
    {
        if (given is { } g) return (g, $"given ({Text(g)})");
        int sameCount = same?.Count(x => x) ?? 0, different = (same?.Length ?? 0) - sameCount;
        string counts = $"{sameCount} same and {different} different labelled pairs";
        bool enough = sameCount >= MinPairsPerClass && different >= MinPairsPerClass;
        if (calibrated is { } c && !enough)
            return (c, $"{calibratedFrom} ({Text(c)}); kept: {counts}, fewer than {MinPairsPerClass} of each class to choose from");
        if (scores is null || same is null) throw new ArgumentException("no labelled pairs to choose the threshold from, and no calibrated threshold");
        float t = Choose(scores, same);
        return (t, $"chosen on {counts} by {Selection} ({Text(t)})" + (enough ? "" : $"; fewer than {MinPairsPerClass} of each class, and no calibrated threshold to keep"));
    }

    private static string Text(float v) => v.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether the face-status columns gate the decision (both present in the schema).</summary>
    public bool Gated(Func<string?, bool> has) => has(Status1) && has(Status2);

    /// <summary>The stages for <paramref name="threshold"/> (from <paramref name="thresholdSource"/>) and, when fitted, <paramref name="platt"/>.</summary>
    public IEstimator<ITransformer> Build(TransformsCatalog catalog, bool gated, float threshold, PlattCalibration? platt, string thresholdSource)
    {
        IEstimator<ITransformer> chain = gated
            ? catalog.Expression(Score, XcosPairScorer.MarginExpression(threshold, true), Decide, Status1!, Status2!)
            : catalog.Expression(Score, XcosPairScorer.MarginExpression(threshold, false), Decide);
        if (gated)
            foreach (var column in Gate) chain = chain.Append(catalog.Expression(column, GateExpression, column, Status1!, Status2!));
        if (PredictedLabel != null)
            chain = chain.Append(catalog.Expression(PredictedLabel, XcosPairScorer.LabelExpression(), Score));
        // Without labels at Fit there is nothing to calibrate on: the column stays, holding NaN, so the schema is stable.
        if (Probability != null)
            chain = chain.Append(catalog.Expression(Probability, platt is null ? "(m) => na(m)" : XcosPairScorer.ProbabilityExpression(platt), Score));
        // the expression language has no escapes: keep the text to characters that need none
        var source = new string(thresholdSource.Select(ch => ch is '"' or '\\' ? '\'' : ch).ToArray());
        return chain.Append(catalog.Expression(ThresholdSourceColumn, $"(m) => \"{source}\"", Score));
    }

    /// <summary>The deciding scores and labels of the rows whose faces are both ok (and whose score is finite).</summary>
    public (double[] Scores, bool[] Same) Labelled(IDataView scored, bool gated)
    {
        var x = scored.GetColumn<float>(Decide).ToArray();
        var same = scored.GetColumn<bool>(Label).ToArray();
        var ok = Enumerable.Repeat(true, x.Length).ToArray();
        if (gated)
        {
            var s1 = scored.GetColumn<string>(Status1!).ToArray();
            var s2 = scored.GetColumn<string>(Status2!).ToArray();
            for (int i = 0; i < ok.Length; i++) ok[i] = s1[i] == "ok" && s2[i] == "ok";
        }
        var keep = Enumerable.Range(0, x.Length).Where(i => ok[i] && float.IsFinite(x[i])).ToArray();
        return (keep.Select(i => (double)x[i]).ToArray(), keep.Select(i => same[i]).ToArray());
    }

    /// <summary>The threshold of <see cref="Selection"/> on labelled scores.</summary>
    /// <exception cref="ArgumentException">No scores.</exception>
    public float Choose(double[] scores, bool[] same)
    {
        if (scores.Length == 0) throw new ArgumentException("no labelled pairs with both faces ok to choose the threshold from");
        double t = Selection switch
        {
            XcosThresholdSelection.BestAccuracy => VerificationMetrics.BestThreshold(scores, same, Verification.BuildThresholds()).Threshold,
            XcosThresholdSelection.MeanFoldThreshold => VerificationMetrics.KFold(scores, same, Verification).ThresholdMean,
            _ => throw new InvalidOperationException($"unknown threshold selection {Selection}"),
        };
        return (float)t;
    }

    /// <summary>The Platt calibrator of the margins of labelled scores; null when the labels hold one class only (nothing to calibrate on).</summary>
    public static PlattCalibration? Calibrate(double[] scores, bool[] same, float threshold) =>
        same.Contains(true) && same.Contains(false) ? PlattCalibration.Fit(scores.Select(x => (double)((float)x - threshold)).ToList(), same) : null;
}
