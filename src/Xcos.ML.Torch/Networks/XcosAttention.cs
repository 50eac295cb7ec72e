using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>How the 7x7 attention logits become weights that sum to 1.</summary>
public enum AttentionNormalization
{
    /// <summary>Softmax over the 49 cells of logits / temperature (the xCos default).</summary>
    Softmax,
    /// <summary>The original's alternative: subtract each map's minimum, then divide by the map's sum.</summary>
    MinShiftSum,
}

/// <summary>
/// xCos attention branch. <c>embedding_net</c> (conv C->16 3x3, BN, PReLU) runs on each face's grid;
/// the two 16-channel maps are concatenated and <c>attention</c> (conv 32->16, BN, PReLU, conv 16->1, BN, PReLU)
/// gives one logit per cell, normalised over the 49 cells.
/// </summary>
public sealed class XcosAttention : Module<Tensor, Tensor, Tensor>
{
    /// <summary>Channels of the per-face attention embedding.</summary>
    public const int EmbeddingChannels = 16;

    private readonly Sequential embedding_net;
    private readonly Sequential attention;

    /// <param name="gridChannels">Channels of each grid cell (32 in xCos).</param>
    /// <param name="temperature">Softmax temperature (1 in xCos); ignored by <see cref="AttentionNormalization.MinShiftSum"/>.</param>
    /// <param name="normalization">Logit normalisation.</param>
    public XcosAttention(int gridChannels = 32, double temperature = 1.0, AttentionNormalization normalization = AttentionNormalization.Softmax)
        : base(nameof(XcosAttention))
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), "must be positive");
        Temperature = temperature;
        Normalization = normalization;
        embedding_net = Sequential(Conv2d(gridChannels, EmbeddingChannels, 3, padding: 1), BatchNorm2d(EmbeddingChannels), PReLU(1));
        attention = Sequential(
            Conv2d(2 * EmbeddingChannels, 16, 3, padding: 1), BatchNorm2d(16), PReLU(1),
            Conv2d(16, 1, 3, padding: 1), BatchNorm2d(1), PReLU(1));
        RegisterComponents();
    }

    /// <summary>Softmax temperature over the cells (with softmax normalisation only): above 1 flattens the attention, below 1 sharpens it.</summary>
    public double Temperature { get; }

    /// <summary>How the attention logits become weights that sum to 1.</summary>
    public AttentionNormalization Normalization { get; }

    /// <summary>Per-face embedding [B,16,7,7] of a grid [B,C,7,7]; cache it to score one face against many.</summary>
    public Tensor Embed(Tensor grid) => embedding_net.call(grid);

    /// <summary>Attention weights [B,1,7,7] (each map sums to 1) from two per-face embeddings.</summary>
    public Tensor Weights(Tensor embedding1, Tensor embedding2)
    {
        using var scope = NewDisposeScope();
        var a = attention.call(cat([embedding1, embedding2], 1));
        var shape = a.shape;
        var flat = a.reshape(shape[0], -1);
        var w = Normalization switch
        {
            AttentionNormalization.Softmax => functional.softmax(flat / Temperature, 1),
            AttentionNormalization.MinShiftSum => MinShiftSum(flat),
            _ => throw new InvalidOperationException($"Unknown attention normalisation {Normalization}."),
        };
        return w.reshape(shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Scales the last batch norm to <paramref name="scale"/> and zeroes its shift, so the logits start within about
    /// <paramref name="scale"/> of each other and the softmax near uniform (the anchored head then starts at the
    /// embedding cosine). A zero scale starts exactly there but stops every gradient to the layers before it.
    /// </summary>
    public void StartNearUniform(double scale = 0.01)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in attention.named_parameters())
        {
            if (name == "4.weight") p.fill_(scale);
            if (name == "4.bias") p.zero_();
        }
    }

    private static Tensor MinShiftSum(Tensor flat)
    {
        var shifted = flat - flat.min(1, keepdim: true).values;
        return shifted / shifted.sum(1, keepdim: true);
    }

    /// <summary>Attention weights [B,1,7,7] for two grids [B,C,7,7].</summary>
    public override Tensor forward(Tensor grid1, Tensor grid2)
    {
        using var scope = NewDisposeScope();
        return Weights(Embed(grid1), Embed(grid2)).MoveToOuterDisposeScope();
    }
}

/// <summary>Patch-wise cosine of two grids, as the original computes it.</summary>
public static class PatchCosine
{
    /// <summary>Epsilon of the cosine (as F.cosine_similarity(..., eps=1e-6)).</summary>
    public const double Epsilon = 1e-6;

    /// <summary>
    /// Cosine per cell of two [B,C,H,W] grids -> [B,1,H,W]: each C-vector is L2-normalised
    /// (F.normalize, eps 1e-12), then cosine similarity with eps 1e-6.
    /// </summary>
    public static Tensor Map(Tensor grid1, Tensor grid2)
    {
        using var scope = NewDisposeScope();
        var a = functional.normalize(grid1, p: 2, dim: 1);
        var b = functional.normalize(grid2, p: 2, dim: 1);
        return functional.cosine_similarity(a, b, dim: 1, eps: Epsilon).unsqueeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>xCos = sum over cells of cos_map * attention, for [B,1,H,W] maps -> [B].</summary>
    public static Tensor Xcos(Tensor cosMap, Tensor attention) => (cosMap * attention).flatten(1).sum(1);
}
