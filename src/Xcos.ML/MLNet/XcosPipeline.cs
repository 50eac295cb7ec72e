using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Onnx;

namespace Xcos.ML.MLNet;

/// <summary>Options of <see cref="XcosPipeline.Create"/>: a whole face-pair verification pipeline.</summary>
public sealed class XcosPipelineOptions
{
    /// <summary>xCos weights for both the embedding model and the pair head. Default null (then give the two ONNX models).</summary>
    public IReadOnlyDictionary<string, WeightTensor>? Weights { get; set; }

    /// <summary>ONNX embedding model (used when <see cref="Weights"/> is null). Default null.</summary>
    public byte[]? EmbeddingModelBytes { get; set; }

    /// <summary>ONNX pair-head model (used when <see cref="Weights"/> is null). Default null.</summary>
    public byte[]? PairHeadModelBytes { get; set; }

    /// <summary>Export settings used with <see cref="Weights"/>. Default: <see cref="XcosOnnxExportOptions"/> defaults.</summary>
    public XcosOnnxExportOptions ExportOptions { get; set; } = new();

    /// <summary>Folder that relative image paths are read from; null for paths as given. Default null.</summary>
    public string? ImageFolder { get; set; }

    /// <summary>Input: path of the image of face 1. Default "ImagePath1".</summary>
    public string ImagePath1ColumnName { get; set; } = "ImagePath1";

    /// <summary>Input: path of the image of face 2. Default "ImagePath2".</summary>
    public string ImagePath2ColumnName { get; set; } = "ImagePath2";

    /// <summary>Input: landmarks of face 1 (10 or 136 Single, source pixels). Default "Landmarks1".</summary>
    public string Landmarks1ColumnName { get; set; } = "Landmarks1";

    /// <summary>Input: landmarks of face 2. Default "Landmarks2".</summary>
    public string Landmarks2ColumnName { get; set; } = "Landmarks2";

    /// <summary>Pixel normalisation of the network input. Default: xCos <c>(x/255 - 0.5)/0.5</c>, RGB.</summary>
    public FaceTensorOptions Tensor { get; set; } = new();

    /// <summary>Decision threshold; null chooses it from <see cref="LabelColumnName"/> at Fit. Default null.</summary>
    public float? Threshold { get; set; }

    /// <summary>Boolean "same identity" column for choosing the threshold. Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Threshold rule. Default <see cref="XcosThresholdSelection.BestAccuracy"/>.</summary>
    public XcosThresholdSelection ThresholdSelection { get; set; } = XcosThresholdSelection.BestAccuracy;

    /// <summary>Protocol settings for choosing the threshold. Default: the standard 10-fold protocol.</summary>
    public VerificationOptions Verification { get; set; } = new();

    /// <summary>
    /// Keep the loaded images, face tensors, grids and face codes in the output. Default false: the output adds
    /// only AlignStatus1/2, Score, CosineMap, Attention, Cosine and PredictedLabel.
    /// </summary>
    public bool KeepIntermediateColumns { get; set; }
}

/// <summary>
/// The whole verification pipeline as one estimator: <c>LoadImages</c> and <c>AlignFaces</c> for each face,
/// <c>XcosEmbedding</c> for each face, then <c>ScoreXcosPairs</c>. The fitted model saves to one .zip that
/// <c>mlContext.Model.Load</c> reads with only this assembly (no TorchSharp, no <c>RegisterAssembly</c>: ML.NET
/// loads the assembly each CustomMapping names in the .zip). Each embedding stage stores its own copy of the
/// embedding model in the .zip.
/// Engines made from one loaded model may run concurrently, but ML.NET's default engine owns the model: disposing
/// any one disposes the shared ONNX sessions under all the others. Serve many threads with
/// <see cref="XcosPredictionPool{TSrc, TDst}"/>, or create engines with
/// <c>new PredictionEngineOptions { OwnsTransformer = false }</c>.
/// </summary>
public static class XcosPipeline
{
    /// <summary>Builds the pipeline estimator.</summary>
    /// <exception cref="ArgumentException">Neither weights nor both ONNX models, or both.</exception>
    public static IEstimator<ITransformer> Create(TransformsCatalog catalog, XcosPipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        var o = options;
        bool onnx = o.EmbeddingModelBytes != null || o.PairHeadModelBytes != null;
        if (o.Weights != null == onnx || (onnx && (o.EmbeddingModelBytes == null || o.PairHeadModelBytes == null)))
            throw new ArgumentException("XcosPipelineOptions: give either Weights, or both EmbeddingModelBytes and PairHeadModelBytes");

        var embedding = new XcosEmbeddingOptions
        {
            Weights = o.Weights, ModelBytes = o.EmbeddingModelBytes, ExportOptions = o.ExportOptions,
            InputColumnName = "FaceTensor", GridColumnName = "Grid", EmbeddingColumnName = null, FaceCodeColumnName = "FaceCode",
        };
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        var internals = new List<string>();
        foreach (var (n, path, landmarks) in new[] { ("1", o.ImagePath1ColumnName, o.Landmarks1ColumnName), ("2", o.ImagePath2ColumnName, o.Landmarks2ColumnName) })
        {
            chain = chain.Append(catalog.LoadImages("Image" + n, o.ImageFolder, path));
            chain = chain.Append(catalog.AlignFaces(new FaceAlignOptions
            {
                ImageColumnName = "Image" + n, LandmarksColumnName = landmarks, AlignedImageColumnName = null,
                TensorColumnName = "FaceTensor" + n, StatusColumnName = "AlignStatus" + n, Tensor = o.Tensor,
            }));
            internals.AddRange(["Image" + n, "FaceTensor" + n]);
        }
        var face1 = new XcosEmbeddingEstimator(catalog, embedding.ForFace("1"));
        var face2 = new XcosEmbeddingEstimator(catalog, embedding.ForFace("2"));
        // A model without face codes adds only the grids.
        internals.AddRange(face1.OutputColumnNames.Concat(face2.OutputColumnNames));
        chain = chain.Append(face1).Append(face2);
        chain = chain.Append(catalog.ScoreXcosPairs(new XcosPairScorerOptions
        {
            Weights = o.Weights, ModelBytes = o.PairHeadModelBytes, ExportOptions = o.ExportOptions,
            Threshold = o.Threshold, LabelColumnName = o.LabelColumnName, ThresholdSelection = o.ThresholdSelection,
            Verification = o.Verification,
        }));
        if (!o.KeepIntermediateColumns) chain = chain.Append(catalog.DropColumns(internals.ToArray()));
        return chain;
    }

    /// <summary><c>mlContext.Transforms.VerifyFacePairs(options)</c>: see <see cref="Create"/>.</summary>
    public static IEstimator<ITransformer> VerifyFacePairs(this TransformsCatalog catalog, XcosPipelineOptions options) => Create(catalog, options);
}
