using TorchSharp;
using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Explain;

/// <summary>Everything known about why an xCos model scored a pair as it did.</summary>
/// <param name="Xcos">xCos score.</param>
/// <param name="Cosine">Plain cosine of the chosen <see cref="CosineSource"/> (the one Grad-CAM explains).</param>
/// <param name="CosMap">Patch cosine map, G*G values row-major (49 on the default 7x7 grid).</param>
/// <param name="Attention">Attention weights, G*G values summing to 1.</param>
/// <param name="Contribution">Patch contributions cos x attention (they sum to <paramref name="Xcos"/>).</param>
/// <param name="GradCam1">Grad-CAM of the plain cosine on face 1 (on the trunk's 7x7 map, whatever the grid).</param>
/// <param name="GradCam2">Grad-CAM on face 2.</param>
public sealed record XcosExplanation(float Xcos, float Cosine, float[] CosMap, float[] Attention, float[] Contribution, float[] GradCam1, float[] GradCam2)
{
    /// <summary>
    /// The figure input of this explanation: Grad-CAM of face <paramref name="gradCamFace"/> (0 for none) is the extra map,
    /// divided by its maximum so that its printed values stay legible (Grad-CAM's scale carries no meaning of its own).
    /// </summary>
    public ExplanationInput ToFigureInput(RgbImage face1, RgbImage face2, double threshold, string? title = null, int gradCamFace = 1)
    {
        ArgumentNullException.ThrowIfNull(face1);
        ArgumentNullException.ThrowIfNull(face2);
        if (gradCamFace is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(gradCamFace), gradCamFace, "must be 0, 1 or 2");
        // Grad-CAM lives on the trunk's 7x7 map; on a smaller grid the figure's third map is the contributions instead
        bool camFits = GradCam1.Length == CosMap.Length;
        if (!camFits) gradCamFace = 0;
        return new ExplanationInput
        {
            Face1Rgb = face1.Pixels, Face1Width = face1.Width, Face1Height = face1.Height,
            Face2Rgb = face2.Pixels, Face2Width = face2.Width, Face2Height = face2.Height,
            CosMap = CosMap, Attention = Attention, Score = Xcos, Cosine = Cosine, Threshold = threshold, Title = title,
            ExtraMap = gradCamFace switch { 1 => XcosGradCam.Normalize(GradCam1), 2 => XcosGradCam.Normalize(GradCam2), _ => camFits ? null : Contribution },
            ExtraMapTitle = gradCamFace != 0 ? $"Grad-CAM, face {gradCamFace} (/ max)" : camFits ? null : "Contribution (cos x attention)",
        };
    }
}

/// <summary>Explains pairs with an xCos model: patch cosine, attention, contributions and Grad-CAM of the plain cosine.</summary>
public static class XcosExplainer
{
    /// <summary>Explains every pair of a batch (faces [B,3,112,112], normalised as the model expects).</summary>
    public static XcosExplanation[] Explain(XcosModel model, Tensor x1, Tensor x2, CosineSource source = CosineSource.Grid)
    {
        ArgumentNullException.ThrowIfNull(model);
        var cams = XcosGradCam.Compute(model, x1, x2, source);
        using var scope = NewDisposeScope();
        XcosOutput o;
        model.eval();
        using (no_grad()) o = model.Forward(x1, x2);
        int b = (int)x1.shape[0];
        var xcos = o.Xcos.cpu().data<float>().ToArray();
        var cmap = o.CosMap.cpu().contiguous().data<float>().ToArray();
        var att = o.Attention.cpu().contiguous().data<float>().ToArray();
        int cells = cmap.Length / b;
        var result = new XcosExplanation[b];
        for (int i = 0; i < b; i++)
        {
            var c = cmap.AsSpan(i * cells, cells).ToArray();
            var a = att.AsSpan(i * cells, cells).ToArray();
            result[i] = new XcosExplanation(xcos[i], cams[i].Score, c, a, c.Zip(a, (p, q) => p * q).ToArray(), cams[i].Cam1, cams[i].Cam2);
        }
        return result;
    }

    /// <summary>Explains one pair of aligned faces.</summary>
    public static XcosExplanation Explain(XcosModel model, RgbImage face1, RgbImage face2, CosineSource source = CosineSource.Grid,
        FaceTensorOptions? normalization = null, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var n = normalization ?? FaceTensorOptions.Default;
        var x1 = XcosModelScoring.ToBatch([face1], 0, 1, n).to(device ?? CPU);
        var x2 = XcosModelScoring.ToBatch([face2], 0, 1, n).to(device ?? CPU);
        return Explain(model, x1, x2, source)[0];
    }
}

/// <summary>Curve settings and pair-scorer settings of <see cref="XcosFaithfulness"/>.</summary>
public sealed class XcosFaithfulnessOptions
{
    /// <summary>Curve options (grid, fill, random orders, perturbed face, ...).</summary>
    public FaithfulnessOptions Curves { get; set; } = new();

    /// <summary>Scorer options (batch size, normalisation, cosine source, device). The cosine source is also what Grad-CAM explains.</summary>
    public XcosModelScoringOptions Scorer { get; set; } = new();
}

/// <summary>
/// Faithfulness of xCos explanations on a TorchSharp model: deletion and insertion curves of the xCos contributions
/// (cos x attention), Grad-CAM of the plain cosine and a seeded random order, scored by xCos and the plain cosine.
/// </summary>
public static class XcosFaithfulness
{
    /// <summary>Method name of the xCos contribution order.</summary>
    public const string XcosMethod = "xcos";

    /// <summary>Method name of the Grad-CAM order.</summary>
    public const string GradCamMethod = "gradcam";

    /// <summary>Curves of one pair of aligned faces.</summary>
    public static FaithfulnessPairResult Evaluate(XcosModel model, RgbImage face1, RgbImage face2, XcosFaithfulnessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var o = options ?? new XcosFaithfulnessOptions();
        if (o.Curves.Grid != FaceBackbone.MapSize)
            throw new ArgumentException($"xCos and Grad-CAM explain a {FaceBackbone.MapSize}x{FaceBackbone.MapSize} grid; Curves.Grid is {o.Curves.Grid}");
        var e = XcosExplainer.Explain(model, face1, face2, o.Scorer.Cosine, o.Scorer.Normalization, o.Scorer.Device);
        var explanations = new[]
        {
            new PatchExplanation(XcosMethod, e.Contribution),
            new PatchExplanation(GradCamMethod, o.Curves.Face == 1 ? e.GradCam1 : e.GradCam2),
        };
        return Faithfulness.Evaluate(new XcosModelScoring(model, o.Scorer), face1, face2, explanations, o.Curves);
    }

    /// <summary>Curves of every pair, summarised (mean AUC per method, kind and score).</summary>
    /// <param name="model">The network.</param>
    /// <param name="pairs">Aligned face pairs.</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <param name="progress">Receives the number of pairs done.</param>
    public static FaithfulnessSummary EvaluatePairs(XcosModel model, IEnumerable<(RgbImage Face1, RgbImage Face2)> pairs,
        XcosFaithfulnessOptions? options = null, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var results = new List<FaithfulnessPairResult>();
        foreach (var (a, b) in pairs)
        {
            results.Add(Evaluate(model, a, b, options));
            progress?.Report(results.Count);
        }
        return FaithfulnessSummary.From(results);
    }
}
