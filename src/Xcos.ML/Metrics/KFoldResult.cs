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
