using Xcos.ML.MLNet;

namespace Xcos.ML.Torch.MLNet;

/// <summary>
/// Options of <see cref="XcosTrainingEmbeddingEstimator"/> (<c>mlContext.Transforms.XcosEmbedding(XcosTrainingEmbeddingOptions)</c>):
/// the column names and runtime settings of <see cref="XcosEmbeddingOptions"/>, with the model taken from a PyTorch checkpoint.
/// </summary>
/// <remarks>The inherited <c>ModelBytes</c>, <c>ModelPath</c> and <c>Weights</c> must stay null: the checkpoint is the model.</remarks>
public sealed class XcosTrainingEmbeddingOptions : XcosEmbeddingOptions
{
    /// <summary>
    /// PyTorch checkpoint written by <c>torch.save</c> (a bare state dict or a <c>{'state_dict': ...}</c> container, keys
    /// <c>backbone.*</c>, <c>attention.*</c>, <c>backbone_target.*</c> as the published xCos checkpoints). Required.
    /// </summary>
    public string? CheckpointPath { get; set; }
}
