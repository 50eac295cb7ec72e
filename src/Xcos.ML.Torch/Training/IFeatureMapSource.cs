using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// A frozen face model seen as what head-only xCos training needs: its last feature map (C x 7 x 7, C = 512 for
/// IR/IR-SE/MobileFaceNet) and its L2-normalised embedding, for a batch of preprocessed images. A TorchSharp backbone
/// (<see cref="TorchFeatureMapSource"/>) implements it here; an ONNX model exposing both outputs can implement it too.
/// </summary>
public interface IFeatureMapSource
{
    /// <summary>Channels of the feature map.</summary>
    int Channels { get; }
    /// <summary>Side of the (square) feature map.</summary>
    int MapSize { get; }
    /// <summary>Length of the embedding.</summary>
    int EmbeddingSize { get; }
    /// <summary>What the source is (for logs).</summary>
    string Description { get; }

    /// <summary>
    /// Computes maps and embeddings of <paramref name="count"/> images given as CHW floats (count x 3 x 112 x 112,
    /// already normalised as the model expects). Writes count x Channels x MapSize x MapSize map values and
    /// count x EmbeddingSize L2-normalised embedding values.
    /// </summary>
    void Compute(ReadOnlySpan<float> images, int count, Span<float> maps, Span<float> embeddings);
}
