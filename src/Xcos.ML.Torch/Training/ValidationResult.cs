using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Training;

/// <summary>Scores of one validation pair set with the 10-fold protocol.</summary>
/// <param name="Name">Pair-set name (file name without extension).</param>
/// <param name="Pairs">Pairs scored.</param>
/// <param name="SkippedPairs">Pairs left out because an image could not be read.</param>
/// <param name="UnreadableImages">Distinct images that could not be read (each named in <paramref name="Errors"/>, first 10).</param>
/// <param name="Xcos">Metrics of the xCos score.</param>
/// <param name="Cosine">Metrics of the plain cosine: full mode, of the flattened grid embeddings; head mode, of the frozen model's embeddings.</param>
/// <param name="Errors">Up to 10 read errors.</param>
public sealed record ValidationResult(string Name, int Pairs, int SkippedPairs, int UnreadableImages,
    VerificationReport Xcos, VerificationReport Cosine, IReadOnlyList<string> Errors);
