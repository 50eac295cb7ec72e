using Xcos.ML.Images;

namespace Xcos.ML.Explain;

/// <summary>
/// Scores batches of face pairs (aligned RGB faces), the model-agnostic seam of the faithfulness and occlusion
/// measurements: a TorchSharp xCos network, an ONNX model or a test double can stand behind it.
/// </summary>
public interface IFacePairScoring
{
    /// <summary>Names of the scores returned, for example ["xcos", "cosine"]; index 0 is the explained (primary) score.</summary>
    IReadOnlyList<string> ScoreNames { get; }

    /// <summary>
    /// Scores pair i = (<paramref name="faces1"/>[i], <paramref name="faces2"/>[i]) for every i.
    /// Implementations batch as they need; the same <see cref="RgbImage"/> instance may appear many times
    /// (faithfulness perturbs one face and keeps the other), so caching by reference is allowed.
    /// </summary>
    /// <returns><c>result[s][i]</c> = score <c>ScoreNames[s]</c> of pair i.</returns>
    double[][] Score(IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2);
}
