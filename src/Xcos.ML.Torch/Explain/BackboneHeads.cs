using TorchSharp;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Explain;

/// <summary>Which embedding's plain cosine Grad-CAM explains.</summary>
public enum CosineSource
{
    /// <summary>The flattened L2-normalised grid embeddings of the xCos backbone (C*7*7, 1568 for C = 32).</summary>
    Grid,
    /// <summary>The 512-d embeddings of the frozen target (ArcFace) backbone.</summary>
    Target,
}

/// <summary>
/// The embedding heads of a backbone applied to a given 512x7x7 feature map, so that a score can be differentiated with
/// respect to that map. Heads are found by their state-dict child names (the same names the checkpoints use).
/// </summary>
internal static class BackboneHeads
{
    /// <summary>The backbone a source uses.</summary>
    public static FaceBackbone Backbone(XcosModel model, CosineSource source) => source switch
    {
        CosineSource.Grid => model.Backbone,
        CosineSource.Target => model.BackboneTarget
            ?? throw new InvalidOperationException("the target cosine was asked for, but this xCos model has no target backbone (build it with a target architecture)"),
        _ => throw new ArgumentOutOfRangeException(nameof(source), source, "unknown cosine source"),
    };

    /// <summary>L2-normalised embedding [B, D] of feature maps [B, 512, 7, 7].</summary>
    public static Func<Tensor, Tensor> Embedding(FaceBackbone backbone, CosineSource source)
    {
        var children = backbone.named_children().ToDictionary(c => c.name, c => c.module);
        nn.Module<Tensor, Tensor> Child(string name) => children.TryGetValue(name, out var m) && m is nn.Module<Tensor, Tensor> t
            ? t
            : throw new NotSupportedException($"backbone {backbone.Architecture} has no '{name}' head layer; Grad-CAM knows IR/IR-SE and MobileFaceNet heads");
        if (source == CosineSource.Grid)
        {
            if (!backbone.IsGrid) throw new InvalidOperationException($"backbone {backbone.Architecture} has no grid layer");
            var conv = Child("conv1x1");
            return f => FaceBackbone.L2Normalize(conv.call(f).flatten(1));
        }
        if (children.ContainsKey("output_layer"))
        {
            var head = Child("output_layer");
            return f => FaceBackbone.L2Normalize(head.call(f));
        }
        if (children.ContainsKey("conv_6_dw"))
        {
            // MobileFaceNet: global depthwise conv, flatten, linear, batch norm (as its plain head runs them).
            var dw = Child("conv_6_dw");
            var linear = Child("linear");
            var bn = Child("bn");
            return f => FaceBackbone.L2Normalize(bn.call(linear.call(dw.call(f).flatten(1))));
        }
        throw new NotSupportedException($"backbone {backbone.Architecture}: unknown plain head layout");
    }
}
