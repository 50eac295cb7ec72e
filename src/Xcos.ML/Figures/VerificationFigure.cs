using Xcos.ML.Verification;

namespace Xcos.ML.Figures;

/// <summary>
/// The explanation figure of a verified pair. Figure building lives here, not on the result: a result is data, and
/// <c>Verification/</c> does not import <c>Figures/</c> (docs/architecture.md).
/// </summary>
public static class VerificationFigure
{
    /// <summary>
    /// The explanation figure's input: aligned faces, cosine and attention maps, the contributions as the extra map where
    /// the model gives them. <paramref name="threshold"/> replaces the verifier's (for example a report's xCos threshold);
    /// then the figure's verdict is xCos above it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The pair failed, or its aligned faces were not kept.</exception>
    public static ExplanationInput ToExplanationInput(this FacePairVerification result, string? label1 = null, string? label2 = null,
        string? title = null, double? threshold = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (!result.IsOk) throw new InvalidOperationException($"no figure for a failed pair ({result.FailureText})");
        var a = result.Face1.Aligned ?? throw new InvalidOperationException($"{result.Face1.Path}: the aligned face was not kept (verify with keepFaces)");
        var b = result.Face2.Aligned ?? throw new InvalidOperationException($"{result.Face2.Path}: the aligned face was not kept (verify with keepFaces)");
        bool byCosine = result.DecidedBy == "cosine" && threshold is null;
        return new ExplanationInput
        {
            Face1Rgb = a.Pixels, Face1Width = a.Width, Face1Height = a.Height,
            Face2Rgb = b.Pixels, Face2Width = b.Width, Face2Height = b.Height,
            CosMap = result.CosMap!, Attention = result.Attention!, Score = result.Xcos, Cosine = result.Cosine,
            Threshold = threshold ?? result.Threshold ?? double.NaN,
            Same = threshold is { } t ? result.Xcos > t : result.Decision == VerificationDecision.Undecided ? null : result.Same,
            Title = title ?? (byCosine ? "The model's cosine decides; xCos explains it" : null),
            Face1Label = label1 ?? Path.GetFileName(result.Face1.Path), Face2Label = label2 ?? Path.GetFileName(result.Face2.Path),
            ExtraMap = result.Contributions, ExtraMapTitle = result.Contributions is null ? null : "Contribution to the cosine",
            CosMapTitle = result.MapTitle,
        };
    }
}
