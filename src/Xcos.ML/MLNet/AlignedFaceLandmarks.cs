using Microsoft.ML.Transforms;
using Xcos.ML.Alignment;
using Xcos.ML.Images;

namespace Xcos.ML.MLNet;

/// <summary>
/// The landmarks of a face that is already aligned: the ArcFace template scaled to the image, so alignment is the
/// identity at 112x112 and a resize for an aligned crop of another size (e.g. the faces of an InsightFace .bin, or
/// 224x224 aligned crops). Use it with <c>AlignFaces</c>, or <see cref="FacePairPipelineOptions.Aligned"/>.
/// </summary>
public sealed class AlignedFaceLandmarks : ILandmarkSource
{
    /// <summary>The one instance (the source has no settings).</summary>
    public static AlignedFaceLandmarks Instance { get; } = new();

    private AlignedFaceLandmarks() { }

    /// <inheritdoc/>
    public string? ContractName => AlignedFaceLandmarksFactory.ContractName;

    /// <inheritdoc/>
    public float[]? Detect(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return ForSize(image.Width, image.Height);
    }

    /// <summary>The landmarks of an aligned face of this size: they depend on nothing else, so no pixel is read.</summary>
    public static float[] ForSize(int width, int height)
    {
        double sx = width / (double)ArcFaceTemplate.Size, sy = height / (double)ArcFaceTemplate.Size;
        var p = ArcFaceTemplate.Points112;
        var flat = new float[10];
        for (int i = 0; i < 5; i++) { flat[2 * i] = (float)(p[i].X * sx); flat[2 * i + 1] = (float)(p[i].Y * sy); }
        return flat;
    }
}

/// <summary>Rebuilds the aligned-face landmark stage of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class AlignedFaceLandmarksFactory : CustomMappingFactory<LandmarkSourceInput, LandmarkSourceOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.AlignedFaceLandmarks.v1";

    /// <inheritdoc/>
    public override Action<LandmarkSourceInput, LandmarkSourceOutput> GetMapping() => LandmarkSourceMapping.Create(AlignedFaceLandmarks.Instance);
}
