using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>
/// The trainable part of head-only xCos: the grid layer <c>conv1x1</c> (conv C->G 1x1 with bias, BN, PReLU) on a
/// frozen model's feature maps and the attention branch <c>attention</c>. <see cref="XcosStateDict"/> names the weights
/// as in an xCos checkpoint (<c>backbone.conv1x1.*</c>, <c>attention.*</c>).
/// </summary>
public sealed class XcosGridHead : Module<Tensor, Tensor, XcosScores>
{
    private readonly Sequential conv1x1;
    private readonly XcosAttention attention;

    /// <summary>Creates the head for <paramref name="inChannels"/>-channel maps and <paramref name="gridChannels"/>-channel grid cells.</summary>
    public XcosGridHead(int inChannels = 512, int gridChannels = 32, double temperature = 1.0,
        AttentionNormalization normalization = AttentionNormalization.Softmax) : base(nameof(XcosGridHead))
    {
        conv1x1 = Sequential(Conv2d(inChannels, gridChannels, 1, stride: 1, padding: 0L, bias: true), BatchNorm2d(gridChannels), PReLU(gridChannels));
        attention = new XcosAttention(gridChannels, temperature, normalization);
        RegisterComponents();
    }

    /// <summary>The attention branch (child <c>attention</c>), trained with the grid layer.</summary>
    public XcosAttention Attention => attention;

    /// <summary>Grid [B,G,7,7] of feature maps [B,C,7,7].</summary>
    public Tensor Grid(Tensor maps) => conv1x1.call(maps);

    /// <summary>xCos of two batches of grids.</summary>
    public XcosScores ScoreGrids(Tensor grid1, Tensor grid2)
    {
        using var scope = NewDisposeScope();
        var att = attention.call(grid1, grid2);
        var cmap = PatchCosine.Map(grid1, grid2);
        var x = PatchCosine.Xcos(cmap, att);
        return new XcosScores(x.MoveToOuterDisposeScope(), cmap[.., 0].MoveToOuterDisposeScope(), att[.., 0].MoveToOuterDisposeScope());
    }

    /// <summary>xCos of two batches of feature maps.</summary>
    public override XcosScores forward(Tensor maps1, Tensor maps2)
    {
        using var scope = NewDisposeScope();
        var s = ScoreGrids(Grid(maps1), Grid(maps2));
        return new XcosScores(s.Xcos.MoveToOuterDisposeScope(), s.CosMap.MoveToOuterDisposeScope(), s.Attention.MoveToOuterDisposeScope());
    }

    /// <summary>The weights under xCos checkpoint names (caller disposes nothing: these are the live tensors).</summary>
    public Dictionary<string, Tensor> XcosStateDict() =>
        state_dict().ToDictionary(kv => kv.Key.StartsWith("conv1x1.", StringComparison.Ordinal) ? "backbone." + kv.Key : kv.Key, kv => kv.Value, StringComparer.Ordinal);
}
