namespace Xcos.ML.Verification;

/// <summary>What a model computes for one pair of embedded faces (see <see cref="FacePairVerification"/> for the meanings).</summary>
/// <param name="Xcos">xCos.</param>
/// <param name="Cosine">The plain cosine of the verifier's <see cref="IFacePairVerifier.CosineSource"/>.</param>
/// <param name="CosMap">Per-cell cosines, row-major.</param>
/// <param name="Attention">Per-cell attention.</param>
/// <param name="Contributions">Per-cell contributions to the cosine, where the model gives them.</param>
/// <param name="BiasContribution">The head's constant term's share of the cosine, where the model gives it.</param>
public sealed record FacePairScores(double Xcos, double Cosine, float[] CosMap, float[] Attention, float[]? Contributions = null, double? BiasContribution = null);
