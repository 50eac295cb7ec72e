using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace Xcos.ML.Metrics;

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
    /// <summary>Where the scoring model's decision threshold came from (its ThresholdSource column: given, chosen on labels, or the calibrated one kept); null when the data has no such column.</summary>
    [JsonPropertyName("thresholdSource")] public string? ThresholdSource { get; init; }
    /// <summary>Pairs left out because they could not be scored (NaN score: a face missing, undecodable, not found...).</summary>
    [JsonPropertyName("skipped")] public IReadOnlyList<SkippedPair> Skipped { get; init; } = [];

    // The compiler's ToString prints an array or list by its type name ("System.Double[]"): print the values, invariant
    // culture, and the skipped pairs as a count (there may be thousands).
    private bool PrintMembers(StringBuilder builder)
    {
        var c = CultureInfo.InvariantCulture;
        static string Join<T>(IEnumerable<T> values) => "[" + string.Join(", ", values.Select(v => string.Format(CultureInfo.InvariantCulture, "{0}", v))) + "]";
        builder.Append(c, $"Pairs = {Pairs}, SamePairs = {SamePairs}, DifferentPairs = {DifferentPairs}, Folds = {Folds}, ");
        builder.Append(c, $"FoldAccuracies = {Join(FoldAccuracies)}, FoldThresholds = {Join(FoldThresholds)}, ");
        builder.Append(c, $"AccuracyMean = {AccuracyMean}, AccuracyStd = {AccuracyStd}, ThresholdMean = {ThresholdMean}, ");
        builder.Append(c, $"BestThreshold = {BestThreshold}, BestAccuracy = {BestAccuracy}, Auc = {Auc}, Eer = {Eer}, EerThreshold = {EerThreshold}, ");
        builder.Append(c, $"TarAtFar1e3 = {TarAtFar1e3}, TarAtFar1e4 = {TarAtFar1e4}, TarAtFar = {Join(TarAtFar)}, ");
        builder.Append(c, $"ThresholdSource = {ThresholdSource ?? "null"}, Skipped = {Skipped.Count} pairs");
        return true;
    }
}
