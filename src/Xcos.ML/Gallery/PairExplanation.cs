namespace Xcos.ML.Gallery;

/// <summary>The pair head's view of a probe against one gallery face.</summary>
/// <param name="Score">xCos: the attention-weighted sum of <paramref name="CosMap"/>.</param>
/// <param name="CosMap">Per-cell cosines (H x W, row-major).</param>
/// <param name="Attention">Per-cell weights, summing to 1.</param>
/// <param name="Contributions">Per-cell exact shares of the embedding cosine (weight-derived head), or null when the head gives none.</param>
/// <param name="MapSide">Side of the square cell grid (7).</param>
public sealed record PairExplanation(double Score, float[] CosMap, float[] Attention, float[]? Contributions, int MapSide);
