using System.Text.Json.Serialization;

namespace Xcos.ML.Metrics;

/// <summary>Outcome of the k-fold verification protocol.</summary>
/// <param name="FoldAccuracies">Accuracy of each fold, measured with the threshold chosen on the other folds.</param>
/// <param name="FoldThresholds">Threshold chosen for each fold: the first grid value with the best accuracy on the other folds.</param>
/// <param name="Thresholds">The threshold grid.</param>
/// <param name="MeanTruePositiveRates">True positive rate at each grid threshold on the held-out fold, averaged over folds.</param>
/// <param name="MeanFalsePositiveRates">False positive rate at each grid threshold on the held-out fold, averaged over folds.</param>
public sealed record KFoldResult(
    [property: JsonPropertyName("foldAccuracies")] double[] FoldAccuracies,
    [property: JsonPropertyName("foldThresholds")] double[] FoldThresholds,
    [property: JsonPropertyName("thresholds")] double[] Thresholds,
    [property: JsonPropertyName("meanTruePositiveRates")] double[] MeanTruePositiveRates,
    [property: JsonPropertyName("meanFalsePositiveRates")] double[] MeanFalsePositiveRates)
{
    /// <summary>Mean of the fold accuracies.</summary>
    [JsonPropertyName("accuracyMean")] public double AccuracyMean => FoldAccuracies.Average();

    /// <summary>Population standard deviation (NumPy's default, ddof 0) of the fold accuracies.</summary>
    [JsonPropertyName("accuracyStd")] public double AccuracyStd => VerificationMetrics.PopulationStd(FoldAccuracies);

    /// <summary>Mean of the chosen fold thresholds.</summary>
    [JsonPropertyName("thresholdMean")] public double ThresholdMean => FoldThresholds.Average();
}

/// <summary>Exact ROC curve: point k accepts every pair whose score is &gt;= <c>Thresholds[k]</c>.</summary>
/// <remarks>Point 0 is (0, 0) with a threshold just above the highest score; each further point adds one
/// distinct score value (tied scores enter together, so ties give one diagonal segment). The last point is (1, 1).
/// The integer counts are kept so that AUC and EER are computed without rounding on the way.</remarks>
/// <param name="TruePositives">Same pairs accepted at each point.</param>
/// <param name="FalsePositives">Different pairs accepted at each point.</param>
/// <param name="Positives">Number of same pairs.</param>
/// <param name="Negatives">Number of different pairs.</param>
/// <param name="Thresholds">Threshold of each point.</param>
public sealed record RocCurve(
    [property: JsonPropertyName("truePositives")] long[] TruePositives,
    [property: JsonPropertyName("falsePositives")] long[] FalsePositives,
    [property: JsonPropertyName("positives")] long Positives,
    [property: JsonPropertyName("negatives")] long Negatives,
    [property: JsonPropertyName("thresholds")] double[] Thresholds)
{
    /// <summary>False positive (false accept) rate of each point.</summary>
    [JsonIgnore] public double[] FalsePositiveRates { get; } = FalsePositives.Select(v => (double)v / Negatives).ToArray();

    /// <summary>True positive (true accept) rate of each point.</summary>
    [JsonIgnore] public double[] TruePositiveRates { get; } = TruePositives.Select(v => (double)v / Positives).ToArray();

    /// <summary>Points on the curve: one per threshold.</summary>
    [JsonIgnore] public int Count => Thresholds.Length;
}

/// <summary>True accept rate at a false accept rate.</summary>
/// <param name="TargetFar">The false accept rate asked for.</param>
/// <param name="Tar">The highest true accept rate of an ROC point whose false accept rate is at most <paramref name="TargetFar"/>.</param>
/// <param name="Far">The false accept rate of that point.</param>
/// <param name="Threshold">Its threshold: pairs with score &gt;= it are accepted.</param>
public sealed record TarAtFar(
    [property: JsonPropertyName("targetFar")] double TargetFar,
    [property: JsonPropertyName("tar")] double Tar,
    [property: JsonPropertyName("far")] double Far,
    [property: JsonPropertyName("threshold")] double Threshold);

/// <summary>The operating point where false accepts and false rejects are equally frequent.</summary>
/// <param name="Rate">The rate where the false accept and false reject rates meet, linearly interpolated along the ROC segment where they cross.</param>
/// <param name="Threshold">Threshold of the first ROC point whose false reject rate is not above its false accept rate (score &gt;= it accepted).</param>
public sealed record EqualErrorRate(
    [property: JsonPropertyName("rate")] double Rate,
    [property: JsonPropertyName("threshold")] double Threshold);

/// <summary>All verification figures of one set of scored pairs.</summary>
public sealed record VerificationReport
{
    /// <summary>Pairs scored, same and different together.</summary>
    [JsonPropertyName("pairs")] public required int Pairs { get; init; }
    /// <summary>Number of same-identity pairs.</summary>
    [JsonPropertyName("samePairs")] public required int SamePairs { get; init; }
    /// <summary>Number of different-identity pairs.</summary>
    [JsonPropertyName("differentPairs")] public required int DifferentPairs { get; init; }
    /// <summary>Number of folds of the protocol.</summary>
    [JsonPropertyName("folds")] public required int Folds { get; init; }
    /// <summary>Accuracy of each fold (score &gt; threshold is "same").</summary>
    [JsonPropertyName("foldAccuracies")] public required double[] FoldAccuracies { get; init; }
    /// <summary>Threshold chosen for each fold.</summary>
    [JsonPropertyName("foldThresholds")] public required double[] FoldThresholds { get; init; }
    /// <summary>Mean fold accuracy: the usual headline number.</summary>
    [JsonPropertyName("accuracyMean")] public required double AccuracyMean { get; init; }
    /// <summary>Population standard deviation of the fold accuracies.</summary>
    [JsonPropertyName("accuracyStd")] public required double AccuracyStd { get; init; }
    /// <summary>Mean of the fold thresholds.</summary>
    [JsonPropertyName("thresholdMean")] public required double ThresholdMean { get; init; }
    /// <summary>First grid threshold with the best accuracy over all pairs (score &gt; threshold is "same").</summary>
    [JsonPropertyName("bestThreshold")] public required double BestThreshold { get; init; }
    /// <summary>Accuracy over all pairs at <see cref="BestThreshold"/>.</summary>
    [JsonPropertyName("bestAccuracy")] public required double BestAccuracy { get; init; }
    /// <summary>Area under the exact ROC curve.</summary>
    [JsonPropertyName("auc")] public required double Auc { get; init; }
    /// <summary>Equal error rate, 0..1: where the false accept and false reject rates meet.</summary>
    [JsonPropertyName("eer")] public required double Eer { get; init; }
    /// <summary>Threshold at the equal error rate (score &gt;= it accepted).</summary>
    [JsonPropertyName("eerThreshold")] public required double EerThreshold { get; init; }
    /// <summary>True accept rate at FAR 1e-3.</summary>
    [JsonPropertyName("tarAtFar1e-3")] public required double TarAtFar1e3 { get; init; }
    /// <summary>True accept rate at FAR 1e-4.</summary>
    [JsonPropertyName("tarAtFar1e-4")] public required double TarAtFar1e4 { get; init; }
    /// <summary>True accept rate at each of <see cref="VerificationOptions.FalseAcceptRates"/>.</summary>
    [JsonPropertyName("tarAtFar")] public required TarAtFar[] TarAtFar { get; init; }
    /// <summary>Pairs left out because they could not be scored (NaN score: a face missing, undecodable, not found...).</summary>
    [JsonPropertyName("skipped")] public IReadOnlyList<SkippedPair> Skipped { get; init; } = [];
}

/// <summary>A pair left out of an evaluation.</summary>
/// <param name="Row">Row of the scored data, from 0.</param>
/// <param name="Reason">Why: the row's status text when the data has one, else "score is NaN".</param>
public sealed record SkippedPair(
    [property: JsonPropertyName("row")] long Row,
    [property: JsonPropertyName("reason")] string Reason);
