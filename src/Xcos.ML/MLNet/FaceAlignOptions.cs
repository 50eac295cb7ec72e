using Xcos.ML.Alignment;
using Xcos.ML.Images;

namespace Xcos.ML.MLNet;

/// <summary>Options of <see cref="FaceAlignEstimator"/> (<c>mlContext.Transforms.AlignFaces</c>).</summary>
public sealed class FaceAlignOptions
{
    /// <summary>Input image column (<c>MLImage</c>, e.g. from <c>mlContext.Transforms.LoadImages</c>). Default "Image".</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>
    /// Input landmark column: a float vector of 10 (five x,y points) or 136 (68 points, reduced to five), in source pixels.
    /// Default "Landmarks". Set to null to take landmarks from <see cref="LandmarkSource"/>; if the column is
    /// absent from the data and a source is given, the source is used too.
    /// </summary>
    public string? LandmarksColumnName { get; set; } = "Landmarks";

    /// <summary>Landmark provider used when there is no landmark column (see <see cref="LandmarksColumnName"/>). Default null.</summary>
    public ILandmarkSource? LandmarkSource { get; set; }

    /// <summary>Output column of the aligned 112x112 face as an <c>MLImage</c>; null for none. Default "AlignedFace".</summary>
    public string? AlignedImageColumnName { get; set; } = "AlignedFace";

    /// <summary>
    /// Output column of the normalised CHW float vector (3 x 112 x 112), made as <see cref="Tensor"/> says; null for none.
    /// Default "FaceTensor".
    /// </summary>
    public string? TensorColumnName { get; set; } = "FaceTensor";

    /// <summary>Output text column: "ok", or why the row's face is black (bad or missing landmarks, missing image). Default "AlignStatus".</summary>
    public string StatusColumnName { get; set; } = "AlignStatus";

    /// <summary>Normalisation, plane order and flip of the tensor column. Default: xCos <c>(x/255 - 0.5)/0.5</c>, RGB, no flip.</summary>
    public FaceTensorOptions Tensor { get; set; } = new();
}
