using System.Text.Json.Serialization;

namespace Xcos.ML.Metrics;

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
