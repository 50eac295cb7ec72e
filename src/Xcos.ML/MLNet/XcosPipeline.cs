using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Onnx;
using Xcos.ML.Verification;

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

    /// <summary>
    /// The images are faces already aligned onto the ArcFace template (at 112x112 or any size): no landmark columns are
    /// read and no detector runs (<see cref="AlignedFaceLandmarks"/>). Default false.
    /// </summary>
    public bool Aligned { get; set; }

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
    /// A frozen ONNX face model to verify raw photos with (e.g. <see cref="FaceModelDescriptor.FrFeature"/>): the photos are
    /// read, their primary faces detected and aligned, embedded by this model, and its own cosine decides while xCos
    /// explains. Then <see cref="Weights"/> and the ONNX byte options stay null and the landmark columns are not read.
    /// Default null (a trained xCos network: give <see cref="Weights"/> or the two ONNX models).
    /// </summary>
    public FaceModelDescriptor? FaceModel { get; set; }

    /// <summary>Folder of the descriptor's data files (calibration means, learned head); null: next to the shipped descriptor.</summary>
    public string? FaceModelDirectory { get; set; }

    /// <summary>Folder holding fr_detect.onnx, fr_landmark.onnx and the face model; null: <see cref="ModelStore.ResolveDirectory"/>.</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>The xCos that explains a <see cref="FaceModel"/>. Default <see cref="XcosVariant.Weights"/>.</summary>
    public XcosVariant Xcos { get; set; } = XcosVariant.Weights;

    /// <summary>Learned head for <see cref="XcosVariant.Learned"/>; null takes the one next to the descriptor.</summary>
    public string? LearnedHeadPath { get; set; }

    /// <summary>GPU device for ONNX Runtime; null runs on the CPU. Default null.</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>Run on the CPU when the GPU cannot be used. Default false.</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>
    /// Keep the loaded images, face tensors, grids and face codes in the output. Default false: the output adds
    /// only AlignStatus1/2, Score, CosineMap, Attention, Cosine and PredictedLabel.
    /// </summary>
    public bool KeepIntermediateColumns { get; set; }

    /// <summary>
    /// <see cref="FaceModel"/> pipelines: most photos whose per-photo work (read, detect, align, embed) a fitted pipeline
    /// keeps in memory, shared by Fit's threshold pass, every later Transform and every pass over a lazy result, so a
    /// photo in many rows is processed once. Keyed by full path, file size and last-write time (a rewritten file is
    /// processed again), least recently used dropped first; about 100 KB per photo for fr_feature (its 512x7x7 map).
    /// 0 turns it off (every row processes both photos), as does <see cref="KeepIntermediateColumns"/>. A saved and
    /// loaded model processes rows one by one. Default 1024.
    /// </summary>
    public int PhotoCacheCapacity { get; set; } = 1024;
}

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

    /// <summary>Builds the pipeline estimator.</summary>
    /// <exception cref="ArgumentException">Neither weights nor both ONNX models, or both.</exception>
    public static IEstimator<ITransformer> Create(TransformsCatalog catalog, XcosPipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        var o = options;
        if (o.FaceModel != null)
        {
            if (o.Weights != null || o.EmbeddingModelBytes != null || o.PairHeadModelBytes != null)
                throw new ArgumentException("XcosPipelineOptions: give either FaceModel (raw photos through an ONNX face model) or a trained xCos network (Weights or the two ONNX models), not both");
            return new FacePhotoPipeline(catalog, o);
        }
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

    /// <summary><c>mlContext.Transforms.VerifyFacePairs(options)</c>: see <see cref="Create"/>.</summary>
    public static IEstimator<ITransformer> VerifyFacePairs(this TransformsCatalog catalog, XcosPipelineOptions options) => Create(catalog, options);

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
