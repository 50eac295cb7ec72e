using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Networks;

/// <summary>CosFace (additive cosine margin): cos(theta) - m at the true class.</summary>
public sealed class CosFaceHead : MarginHead
{
    public CosFaceHead(int embeddingSize, int classes, double scale = 30.0, double margin = 0.35)
        : base(nameof(CosFaceHead), embeddingSize, classes, scale, margin) { }

    protected override Tensor ApplyMargin(Tensor cos) => cos - Margin;
}
