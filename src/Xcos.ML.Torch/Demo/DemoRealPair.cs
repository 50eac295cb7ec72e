using Xcos.ML.Verification;

namespace Xcos.ML.Torch.Demo;

/// <summary>One labelled pair of real photos run through the real face models.</summary>
/// <param name="Photo1">First photo.</param>
/// <param name="Photo2">Second photo.</param>
/// <param name="SameIdentity">The label: both photos show one person.</param>
/// <param name="Verification">The verification core's result (statuses, faces found, cosine, xCos, maps, decision).</param>
/// <param name="Figure">Explanation figure, or null when a photo had no usable face.</param>
public sealed record DemoRealPair(string Photo1, string Photo2, bool SameIdentity, FacePairVerification Verification, string? Figure);
