namespace Xcos.ML.Gallery;

/// <summary>One identity in an identification answer.</summary>
/// <param name="Identity">Who.</param>
/// <param name="Cosine">The model's embedding cosine of the probe and the identity's best face (it decides open-set).</param>
/// <param name="Score">The pair head's xCos on the same two faces (it re-ranks and explains), or null when not computed.</param>
/// <param name="CosineRank">1-based rank among the shortlist by cosine.</param>
/// <param name="Face">The identity's gallery face nearest the probe.</param>
/// <param name="Explanation">Cos map, attention and contributions of the pair, or null.</param>
public sealed record IdentityMatch(string Identity, double Cosine, double? Score, int CosineRank, GalleryFace Face, PairExplanation? Explanation);
