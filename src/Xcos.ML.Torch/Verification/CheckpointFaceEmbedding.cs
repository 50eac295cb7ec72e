namespace Xcos.ML.Torch.Verification;

/// <summary>What a checkpoint keeps of one embedded face, on the CPU: its grid, its attention embedding and the vector of its plain cosine.</summary>
/// <param name="Grid">Grid feature map, CHW.</param>
/// <param name="GridShape">Its shape without the batch dimension.</param>
/// <param name="AttentionEmbedding">The attention network's embedding of the grid.</param>
/// <param name="AttentionShape">Its shape without the batch dimension.</param>
/// <param name="CosineVector">The target backbone's embedding, or the flattened grid embedding without a target.</param>
public sealed record CheckpointFaceEmbedding(float[] Grid, long[] GridShape, float[] AttentionEmbedding, long[] AttentionShape, float[] CosineVector);
