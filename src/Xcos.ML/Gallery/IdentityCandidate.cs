namespace Xcos.ML.Gallery;

/// <summary>An identity found by a gallery search: its best-matching face and that face's cosine to the probe.</summary>
/// <param name="Identity">Who.</param>
/// <param name="Cosine">Embedding cosine of the probe and <paramref name="BestFace"/>.</param>
/// <param name="BestFace">The identity's face nearest the probe.</param>
public sealed record IdentityCandidate(string Identity, double Cosine, GalleryFace BestFace);
