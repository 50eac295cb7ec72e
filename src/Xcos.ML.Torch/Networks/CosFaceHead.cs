using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Networks;

/// <summary>CosFace (additive cosine margin): cos(theta) - m at the true class.</summary>
public sealed class CosFaceHead : MarginHead
{
    /// <summary>CosFace with the original defaults: s = 30, m = 0.35.</summary>
    public CosFaceHead(int embeddingSize, int classes, double scale = 30.0, double margin = 0.35)
        : base(nameof(CosFaceHead), embeddingSize, classes, scale, margin) { }

    /// <summary>cos(theta) - m.</summary>
    protected override Tensor ApplyMargin(Tensor cos) => cos - Margin;
}
