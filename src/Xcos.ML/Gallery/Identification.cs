namespace Xcos.ML.Gallery;

/// <summary>The answer to "who is this?".</summary>
/// <param name="Probe">The probe's encoding (status, aligned face).</param>
/// <param name="Matches">Top identities, best first in <paramref name="Order"/>; empty when the probe has no face.</param>
/// <param name="Unknown">Open-set decision: the best cosine is under <paramref name="Threshold"/> (or there is no face or no gallery).</param>
/// <param name="Threshold">The cosine threshold used.</param>
/// <param name="Order">"cosine" or "xcos": what ordered <paramref name="Matches"/>.</param>
public sealed record Identification(FaceEncoding Probe, IReadOnlyList<IdentityMatch> Matches, bool Unknown, double Threshold, string Order);
