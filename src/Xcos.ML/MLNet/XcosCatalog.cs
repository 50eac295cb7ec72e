using Microsoft.ML;
using Xcos.ML.Alignment;
using Xcos.ML.Metrics;

namespace Xcos.ML.MLNet;

/// <summary>
/// Xcos.ML's extensions of ML.NET's catalogs, all in one place: <c>mlContext.Transforms</c> (alignment, embedding, pair
/// scoring, the two whole verification pipelines, identification) and the verification report
/// (<c>mlContext.EvaluateVerification</c>, <c>mlContext.BinaryClassification.EvaluateVerification</c>).
/// </summary>
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
    /// The whole face-pair verification pipeline of a trained xCos network: see
    /// <see cref="XcosPipeline.Create(TransformsCatalog, XcosPipelineOptions)"/>.
    /// </summary>
    public static IEstimator<ITransformer> VerifyFacePairs(this TransformsCatalog catalog, XcosPipelineOptions options)
        => XcosPipeline.Create(catalog, options);

    /// <summary>
    /// The whole face-pair verification pipeline of an ONNX face model on raw photos: see
    /// <see cref="XcosPipeline.Create(TransformsCatalog, FacePhotoPipelineOptions)"/>.
    /// </summary>
    public static IEstimator<ITransformer> VerifyFacePairs(this TransformsCatalog catalog, FacePhotoPipelineOptions options)
        => XcosPipeline.Create(catalog, options);

    /// <summary>
    /// Appends 1:N identification against a gallery (file or postgresql:// URI) built with fr_feature (<c>xcos enroll</c>): "Image" (MLImage) in;
    /// Identity, IdentityScore (cosine), Unknown, TopIdentities, TopScores and IdentifyStatus out. The model saves; the
    /// gallery stays a file the loading process names (<see cref="IdentifyFacesFactory.UseGallery"/> or $XCOS_GALLERY),
    /// so a model loaded later sees the enrolments made since it was saved. This call makes <paramref name="galleryPath"/>
    /// the process's gallery.
    /// </summary>
    public static IdentifyFacesEstimator IdentifyFaces(this TransformsCatalog catalog, string galleryPath)
        => new(catalog, galleryPath);

    /// <summary>
    /// The verification report of the pairs in <paramref name="data"/>: the k-fold protocol's accuracy (10 folds by default),
    /// ROC AUC, EER, TAR at FAR and the best threshold, from a Boolean label column and a Single (or Double) score column.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type (the message names it).</exception>
    /// <remarks>Rows with a NaN score (pairs the pipeline could not score) are left out and listed in <see cref="VerificationReport.Skipped"/>.</remarks>
    /// <exception cref="ArgumentException">Fewer scored pairs than folds, or only one class.</exception>
    public static VerificationReport EvaluateVerification(this MLContext mlContext, IDataView data,
        string labelColumnName = "Label", string scoreColumnName = "Score", VerificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return VerificationEvaluation.Evaluate(data, labelColumnName, scoreColumnName, options);
    }

    /// <inheritdoc cref="EvaluateVerification(MLContext, IDataView, string, string, VerificationOptions?)"/>
    public static VerificationReport EvaluateVerification(this BinaryClassificationCatalog catalog, IDataView data,
        string labelColumnName = "Label", string scoreColumnName = "Score", VerificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return VerificationEvaluation.Evaluate(data, labelColumnName, scoreColumnName, options);
    }
}
