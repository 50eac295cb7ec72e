using Microsoft.ML;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;

namespace Xcos.ML.Torch.MLNet;

/// <summary>
/// The TorchSharp side of <c>XcosEmbedding</c>: Fit reads the xCos weights of a PyTorch checkpoint, exports them to
/// ONNX and returns the same saveable ML.NET transformer as <see cref="XcosEmbeddingEstimator"/>, so the fitted model
/// runs (and loads) without TorchSharp.
/// </summary>
public sealed class XcosTrainingEmbeddingEstimator : IEstimator<ITransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly XcosTrainingEmbeddingOptions _options;
    private readonly Lazy<Dictionary<string, WeightTensor>> _weights;
    private readonly Lazy<XcosEmbeddingEstimator> _inner;

    /// <summary>Use <c>mlContext.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions { ... })</c>.</summary>
    /// <exception cref="ArgumentException">No checkpoint path, or a model given besides it.</exception>
    public XcosTrainingEmbeddingEstimator(TransformsCatalog catalog, XcosTrainingEmbeddingOptions options)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (string.IsNullOrEmpty(options.CheckpointPath)) throw new ArgumentException("XcosTrainingEmbeddingOptions.CheckpointPath is required");
        if (options.ModelBytes != null || options.ModelPath != null || options.Weights != null)
            throw new ArgumentException("XcosTrainingEmbeddingOptions: the model comes from CheckpointPath; leave ModelBytes, ModelPath and Weights null");
        string path = options.CheckpointPath;
        _weights = new Lazy<Dictionary<string, WeightTensor>>(() => TorchOnnxExport.LoadCheckpointWeights(path));
        // The export runs once, on the first Fit or GetOutputSchema.
        _inner = new Lazy<XcosEmbeddingEstimator>(CreateInner);
    }

    /// <summary>
    /// The weights the fitted model is exported from (read from the checkpoint on first use). Give the same weights to
    /// <c>ScoreXcosPairs</c> (<see cref="XcosPairScorerOptions.Weights"/>) so the pair head matches the embedding.
    /// </summary>
    /// <exception cref="FileNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="InvalidDataException">The checkpoint cannot be read.</exception>
    public IReadOnlyDictionary<string, WeightTensor> Weights => _weights.Value;

    /// <summary>Reads the checkpoint, checks the input column and returns the fitted ONNX transformer.</summary>
    public ITransformer Fit(IDataView input) => _inner.Value.Fit(input);

    /// <summary>The schema after the transform (reads the checkpoint to know the model's outputs).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _inner.Value.GetOutputSchema(inputSchema);

    private XcosEmbeddingEstimator CreateInner() => new(_catalog, new XcosEmbeddingOptions
    {
        Weights = _weights.Value,
        ExportOptions = _options.ExportOptions,
        InputColumnName = _options.InputColumnName,
        GridColumnName = _options.GridColumnName,
        EmbeddingColumnName = _options.EmbeddingColumnName,
        FaceCodeColumnName = _options.FaceCodeColumnName,
        TargetEmbeddingColumnName = _options.TargetEmbeddingColumnName,
        GpuDeviceId = _options.GpuDeviceId,
        FallbackToCpu = _options.FallbackToCpu,
    });
}

/// <summary>Xcos.ML.Torch extensions of <c>mlContext.Transforms</c>.</summary>
public static class XcosTorchCatalog
{
    /// <summary>
    /// xCos face features from a PyTorch checkpoint: Fit exports the checkpoint's weights to ONNX and returns a saveable
    /// ML.NET transformer (see <see cref="XcosTrainingEmbeddingEstimator"/>).
    /// </summary>
    public static XcosTrainingEmbeddingEstimator XcosEmbedding(this TransformsCatalog catalog, XcosTrainingEmbeddingOptions options)
        => new(catalog, options);
}
