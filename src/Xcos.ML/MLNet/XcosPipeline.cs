using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Onnx;
using Xcos.ML.Verification;

namespace Xcos.ML.MLNet;

/// <summary>
/// The whole verification pipeline as one estimator: for each face, the image is read with a per-row status (a missing,
/// undecodable or truncated file never throws), aligned with <c>AlignFaces</c>, and both faces are embedded by one
/// <c>XcosEmbedding</c> stage that stores the network once; <c>ScoreXcosPairs</c> then gives the decision in ML.NET's
/// convention. Output columns (default names): <c>FaceStatus1</c>, <c>FaceStatus2</c>, <c>Status</c> ("ok" or the
/// first failure), <c>Score</c> (the margin: deciding score minus threshold, <c>Xcos - threshold</c> for a checkpoint, <c>Cosine - threshold</c> for a face model; NaN unless both faces are ok), <c>PredictedLabel</c>,
/// <c>Probability</c> (Platt, when Fit sees labels), <c>Xcos</c>, <c>Cosine</c> (the target backbone's cosine when the
/// weights have one, the number xCos is trained to follow), <c>GridCosine</c>, <c>CosineMap</c> and <c>Attention</c>.
/// The fitted model saves to one .zip and needs only this assembly (no TorchSharp) to load and score.
/// Engines made from one loaded model may run concurrently, but ML.NET's default engine owns the model: disposing
/// any one disposes the shared ONNX sessions under all the others. Serve many threads with
/// <see cref="XcosPredictionPool{TSrc, TDst}"/>, or create engines with
/// <c>new PredictionEngineOptions { OwnsTransformer = false }</c>.
/// </summary>
public static class XcosPipeline
{
    /// <summary>Status text of a face or pair that went through.</summary>
    private const string Ok = "\"ok\"";

    /// <summary>Builds the pipeline estimator of a trained xCos network.</summary>
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
            TargetEmbeddingColumnName = "TargetEmbedding", GpuDeviceId = o.GpuDeviceId, FallbackToCpu = o.FallbackToCpu,
        };
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        var internals = new List<string>();
        foreach (var (n, path, landmarks) in new[] { ("1", o.ImagePath1ColumnName, o.Landmarks1ColumnName), ("2", o.ImagePath2ColumnName, o.Landmarks2ColumnName) })
        {
            chain = chain.Append(LoadImage(catalog, path, "Image" + n, "LoadStatus" + n, o.ImageFolder));
            chain = chain.Append(catalog.AlignFaces(new FaceAlignOptions
            {
                ImageColumnName = "Image" + n, LandmarksColumnName = o.Aligned ? null : landmarks, AlignedImageColumnName = null,
                LandmarkSource = o.Aligned ? AlignedFaceLandmarks.Instance : null,
                TensorColumnName = "FaceTensor" + n, StatusColumnName = "AlignStatus" + n, Tensor = o.Tensor,
            }));
            chain = chain.Append(FaceStatus(catalog, "FaceStatus" + n, "LoadStatus" + n, "AlignStatus" + n));
            internals.AddRange(["Image" + n, "FaceTensor" + n, "LoadStatus" + n, "AlignStatus" + n]);
        }
        chain = chain.Append(PairStatus(catalog, "Status", "FaceStatus1", "FaceStatus2"));
        var faces = XcosEmbeddingEstimator.ForPair(catalog, embedding);
        // A model without face codes or a target backbone adds only the grids.
        internals.AddRange(faces.OutputColumnNames);
        chain = chain.Append(faces);
        chain = chain.Append(catalog.ScoreXcosPairs(new XcosPairScorerOptions
        {
            Weights = o.Weights, ModelBytes = o.PairHeadModelBytes, ExportOptions = o.ExportOptions,
            Threshold = o.Threshold, LabelColumnName = o.LabelColumnName, ThresholdSelection = o.ThresholdSelection,
            Verification = o.Verification, GpuDeviceId = o.GpuDeviceId, FallbackToCpu = o.FallbackToCpu,
        }));
        if (!o.KeepIntermediateColumns) chain = chain.Append(catalog.DropColumns(internals.ToArray()));
        return chain;
    }

    /// <summary>
    /// Builds the pipeline estimator of an ONNX face model on raw photos (see <see cref="FacePhotoPipelineOptions"/>):
    /// the same output columns, with <c>Cosine</c> the face model's cosine, which decides.
    /// </summary>
    /// <exception cref="ArgumentException">The face model does not fit the pipeline (its input size, its xCos variant).</exception>
    /// <exception cref="FileNotFoundException">A model file is missing (the message says how to fetch it).</exception>
    public static IEstimator<ITransformer> Create(TransformsCatalog catalog, FacePhotoPipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new FacePhotoPipeline(catalog, options);
    }

    /// <summary>
    /// Reads the image at the path in <paramref name="pathColumn"/> (relative paths against <paramref name="folder"/>) into
    /// <paramref name="imageColumn"/> (null when it cannot be read) and its <c>FaceStatus</c> text into <paramref name="statusColumn"/>.
    /// </summary>
    internal static IEstimator<ITransformer> LoadImage(TransformsCatalog catalog, string pathColumn, string imageColumn, string statusColumn, string? folder)
    {
        MLImageTypeRegistration.Ensure();
        IEstimator<ITransformer> chain = folder == null
            ? catalog.CopyColumns(FaceImageColumns.Path, pathColumn)
            : catalog.Expression(FaceImageColumns.Path, ResolveExpression(folder), pathColumn);
        chain = chain
            .Append(catalog.CustomMapping<FaceImageLoadInput, FaceImageLoadOutput>(FaceImageLoading.Load, FaceImageLoadingFactory.ContractName))
            .Append(catalog.CopyColumns(imageColumn, FaceImageColumns.Image))
            .Append(catalog.CopyColumns(statusColumn, FaceImageColumns.Status))
            .Append(catalog.DropColumns(FaceImageColumns.Path, FaceImageColumns.Image, FaceImageColumns.Status));
        // Without this check a wrong path column fails inside the chain, naming Xcos.Load.Path or the folder expression.
        string role = $"Image path ('{imageColumn}')";
        return new ColumnCheckedEstimator(chain,
            s => XcosPipelineColumns.CheckScalar(s, role, pathColumn, TextDataViewType.Instance),
            s => XcosPipelineColumns.CheckScalar(s, role, pathColumn, TextDataViewType.Instance));
    }

    // Relative paths are joined to the folder inside the saved model (an Expression keeps its text); rooted ones
    // ("/x", "C:...") and empty ones stay as they are.
    private static string ResolveExpression(string folder)
    {
        if (folder.Contains('"', StringComparison.Ordinal)) throw new ArgumentException($"ImageFolder '{folder}' contains a double quote, which a saved pipeline cannot hold");
        string f = folder.Replace('\\', '/');
        if (!f.EndsWith('/')) f += "/";
        return $"(p) => len(p) == 0 or left(p, 1) == \"/\" or mid(p, 1, 1) == \":\" ? p : concat(\"{f}\", p)";
    }

    /// <summary>The status of one face: its load failure, else its alignment status.</summary>
    internal static IEstimator<ITransformer> FaceStatus(TransformsCatalog catalog, string output, string loadStatus, string alignStatus) =>
        catalog.Expression(output, $"(l, a) => l == {Ok} ? a : l", loadStatus, alignStatus);

    /// <summary>"ok" when both faces are, else every failure prefixed with its face ("face2 no_face", "face1 missing_file; face2 no_face").</summary>
    internal static IEstimator<ITransformer> PairStatus(TransformsCatalog catalog, string output, string status1, string status2) =>
        catalog.Expression(output, $"(a, b) => a == {Ok} ? (b == {Ok} ? a : concat(\"face2 \", b)) : (b == {Ok} ? concat(\"face1 \", a) : concat(\"face1 \", a, \"; face2 \", b))",
            status1, status2);
}
