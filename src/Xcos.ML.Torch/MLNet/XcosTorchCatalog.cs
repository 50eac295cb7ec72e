using Microsoft.ML;

namespace Xcos.ML.Torch.MLNet;

/// <summary>Xcos.ML.Torch's extensions of ML.NET's catalogs, all in one place (<c>mlContext.Transforms</c>).</summary>
public static class XcosTorchCatalog
{
    /// <summary>
    /// xCos face features from a PyTorch checkpoint or trained inside Fit: Fit trains (when configured), exports the
    /// weights to ONNX and returns a saveable ML.NET transformer (see <see cref="XcosTrainingEmbeddingEstimator"/>).
    /// </summary>
    public static XcosTrainingEmbeddingEstimator XcosEmbedding(this TransformsCatalog catalog, XcosTrainingEmbeddingOptions options)
        => new(catalog, options);
}
