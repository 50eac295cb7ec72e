using System.Text.Json.Serialization;

namespace Xcos.ML.Metrics;

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
