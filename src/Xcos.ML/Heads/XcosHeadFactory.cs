using Xcos.ML.FaceModels;

namespace Xcos.ML.Heads;

/// <summary>
/// Builds a face model's xCos head from its descriptor: the one place the verifiers, the gallery encoder and the ML.NET
/// photo pipeline get their weight-derived head from.
/// </summary>
public static class XcosHeadFactory
{
    /// <summary>
    /// The weight-derived xCos of a descriptor's model: its attention and centring (the calibration means in
    /// <paramref name="descriptorFolder"/>), and unless <paramref name="calibrate"/> is false its affine calibration and
    /// matching to the cosine. The ML.NET photo pipeline builds its ONNX graph from the same explainer.
    /// </summary>
    public static WeightDerivedXcos CreateWeightDerived(FaceModelDescriptor descriptor, WeightDerivedHead head, string descriptorFolder,
        WeightDerivedAttention? attentionOverride = null, bool? centreOverride = null, bool calibrate = true)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(head);
        float[]? means = descriptor.CalibrationFile is { } cal ? CellMeansFile.Read(Path.Combine(descriptorFolder, cal), head.Cells, head.Dim).Means : null;
        var attention = attentionOverride ?? (WeightDerivedAttentionText.Map.TryParse(descriptor.Attention, out var a) ? a
            : throw new ArgumentException($"attention must be {WeightDerivedAttentionText.Map.Expected}, got \"{descriptor.Attention}\""));
        return new WeightDerivedXcos(head, means, new WeightDerivedXcosOptions
        {
            Attention = attention, Centre = (centreOverride ?? descriptor.Centre) && means is not null && attention != WeightDerivedAttention.Contribution,
            Scale = calibrate ? descriptor.XcosScale : 1, Offset = calibrate ? descriptor.XcosOffset : 0,
            MatchCosine = calibrate && descriptor.XcosMatchCosine,
        });
    }

    /// <summary>
    /// The weight-derived xCos of the embedder's model, or null when the variant is learned and the model's feature map
    /// does not feed its embedding (a two-branch learned-xCos model); the weights variant needs it and says why it failed.
    /// </summary>
    /// <exception cref="InvalidDataException">The weights variant on a model whose map does not fold into its embedding.</exception>
    public static WeightDerivedXcos? TryCreateWeightDerived(FaceModelDescriptor descriptor, OnnxFaceEmbedder embedder, string descriptorPath, XcosVariant variant,
        WeightDerivedAttention? attentionOverride = null, bool? centreOverride = null, bool calibrate = true)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(embedder);
        WeightDerivedHead head;
        try { head = WeightDerivedHead.Extract(embedder.Model, embedder.FeatureMapName, embedder.EmbeddingName); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or NotSupportedException)
        {
            if (variant == XcosVariant.Learned) return null;
            throw new InvalidDataException($"face model '{descriptor.Name}': no weight-derived xCos (its map '{embedder.FeatureMapName}' does not fold into its embedding '{embedder.EmbeddingName}': {e.Message}); use the learned xCos (--xcos learned)", e);
        }
        return CreateWeightDerived(descriptor, head, Path.GetDirectoryName(Path.GetFullPath(descriptorPath))!, attentionOverride, centreOverride, calibrate);
    }
}
