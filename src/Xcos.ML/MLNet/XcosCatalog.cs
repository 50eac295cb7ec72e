using Microsoft.ML;
using Xcos.ML.Alignment;

namespace Xcos.ML.MLNet;

/// <summary>Xcos.ML extensions of <c>mlContext.Transforms</c>.</summary>
public static class XcosCatalog
{
    /// <summary>
    /// Aligns faces onto the ArcFace 112x112 template: <paramref name="imageColumnName"/> (MLImage) and
    /// <paramref name="landmarksColumnName"/> (float vector of 10 or 136 x,y values) in; "AlignedFace" (MLImage),
    /// "FaceTensor" (normalised CHW floats) and "AlignStatus" out.
    /// </summary>
    public static FaceAlignEstimator AlignFaces(this TransformsCatalog catalog,
        string imageColumnName = "Image", string landmarksColumnName = "Landmarks")
        => new(catalog, new FaceAlignOptions { ImageColumnName = imageColumnName, LandmarksColumnName = landmarksColumnName });

    /// <summary>Aligns faces as <paramref name="options"/> say (column names, landmark source, tensor normalisation).</summary>
    public static FaceAlignEstimator AlignFaces(this TransformsCatalog catalog, FaceAlignOptions options)
        => new(catalog, options);

    /// <summary>Aligns faces whose landmarks come from <paramref name="landmarkSource"/> (e.g. a detector) rather than a column.</summary>
    public static FaceAlignEstimator AlignFaces(this TransformsCatalog catalog, ILandmarkSource landmarkSource, string imageColumnName = "Image")
        => new(catalog, new FaceAlignOptions { ImageColumnName = imageColumnName, LandmarksColumnName = null, LandmarkSource = landmarkSource });

    /// <summary>
    /// Computes xCos face features with an already trained model (ONNX bytes or file, or weights): the face tensor
    /// column in; grid, embedding, face code and (if asked) target embedding out. See <see cref="XcosEmbeddingOptions"/>.
    /// </summary>
    public static XcosEmbeddingEstimator XcosEmbedding(this TransformsCatalog catalog, XcosEmbeddingOptions options)
        => new(catalog, options);

    /// <summary>
    /// Scores face pairs with the xCos pair head: two grid columns (and face codes when present) in; Score, CosineMap,
    /// Attention, Cosine and PredictedLabel out. See <see cref="XcosPairScorerOptions"/>.
    /// </summary>
    public static XcosPairScorer ScoreXcosPairs(this TransformsCatalog catalog, XcosPairScorerOptions options)
        => new(catalog, options);

    /// <summary>
    /// Appends 1:N identification against a gallery (file or postgresql:// URI) built with fr_feature (<c>xcos enroll</c>): "Image" (MLImage) in;
    /// Identity, IdentityScore (cosine), Unknown, TopIdentities, TopScores and IdentifyStatus out. The model saves; the
    /// gallery stays a file the loading process names (<see cref="IdentifyFacesFactory.UseGallery"/> or $XCOS_GALLERY),
    /// so a model loaded later sees the enrolments made since it was saved. This call makes <paramref name="galleryPath"/>
    /// the process's gallery.
    /// </summary>
    public static IdentifyFacesEstimator IdentifyFaces(this TransformsCatalog catalog, string galleryPath)
        => new(catalog, galleryPath);
}
