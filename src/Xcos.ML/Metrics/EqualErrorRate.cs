using System.Text.Json.Serialization;

namespace Xcos.ML.Metrics;

/// <summary>The operating point where false accepts and false rejects are equally frequent.</summary>
/// <param name="Rate">The rate where the false accept and false reject rates meet, linearly interpolated along the ROC segment where they cross.</param>
/// <param name="Threshold">Threshold of the first ROC point whose false reject rate is not above its false accept rate (score &gt;= it accepted).</param>
public sealed record EqualErrorRate(
    [property: JsonPropertyName("rate")] double Rate,
    [property: JsonPropertyName("threshold")] double Threshold);
