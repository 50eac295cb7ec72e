using System.Text.Json.Serialization;

namespace Xcos.ML.Metrics;

/// <summary>A pair left out of an evaluation.</summary>
/// <param name="Row">Row of the scored data, from 0.</param>
/// <param name="Reason">Why: the row's status text when the data has one, else "score is NaN".</param>
public sealed record SkippedPair(
    [property: JsonPropertyName("row")] long Row,
    [property: JsonPropertyName("reason")] string Reason);
