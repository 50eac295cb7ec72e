using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>
/// Per-face part of the xCos head, computed once per face and reused for every pair the face is in:
/// the L2-normalised grid cells and the face's share of the first attention convolution, in both pair positions.
/// </summary>
/// <param name="Cells">[N,C,7,7] grid with each cell's C-vector L2-normalised.</param>
/// <param name="AsFirst">[N,16,7,7] the face's term of attention conv 1 when it is face 1 of a pair (bias included).</param>
/// <param name="AsSecond">[N,16,7,7] the face's term when it is face 2.</param>
public sealed record FaceCode(Tensor Cells, Tensor AsFirst, Tensor AsSecond) : IDisposable
{
    /// <summary>Number of faces.</summary>
    public long Count => Cells.shape[0];

    /// <summary>The codes of the faces at <paramref name="index"/> (gathered along dim 0).</summary>
    public FaceCode Select(Tensor index) =>
        new(Cells.index_select(0, index), AsFirst.index_select(0, index), AsSecond.index_select(0, index));

    /// <inheritdoc />
    public void Dispose() { Cells.Dispose(); AsFirst.Dispose(); AsSecond.Dispose(); }
}

/// <summary>
/// Inference-only xCos head with BatchNorm folded into the convolutions and the first attention convolution split
/// by input face. The attention input is concat(e1, e2), and a convolution is linear in its input channels, so
/// conv(concat(e1, e2)) = conv_a(e1) + conv_b(e2): each face's term is computed once per face, and a pair costs only
/// an add, PReLU, the 16->1 convolution, the softmax and the 7x7 dot products. Gives the same numbers as
/// <see cref="XcosModel.Score(Tensor, Tensor)"/> in eval mode (to float rounding).
/// </summary>
public sealed class FoldedPairHead : IDisposable
{
    private const double BnEps = 1e-5;
    private readonly Tensor _embW, _embB, _embSlope;     // embedding_net: conv+BN folded, PReLU
    private readonly Tensor _attWa, _attWb, _attB, _attSlope1; // attention conv 1 split by face, BN folded
    private readonly Tensor _outW, _outB, _attSlope2;    // attention conv 2 (16->1), BN folded
    private readonly double _temperature;
    private readonly AttentionNormalization _normalization;

    /// <summary>Folds the weights of a trained attention branch (its current eval-mode statistics).</summary>
    public FoldedPairHead(XcosAttention attention)
    {
        ArgumentNullException.ThrowIfNull(attention);
        _temperature = attention.Temperature;
        _normalization = attention.Normalization;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var sd = attention.state_dict();
        Tensor P(string k) => sd.TryGetValue(k, out var t) ? t.detach().clone()
            : throw new InvalidOperationException($"attention branch has no parameter '{k}'");
        (Tensor w, Tensor b) Fold(string conv, string bn)
        {
            var scale = P(bn + ".weight") / (P(bn + ".running_var") + BnEps).sqrt();
            var w = P(conv + ".weight") * scale.reshape(-1, 1, 1, 1);
            var b = (P(conv + ".bias") - P(bn + ".running_mean")) * scale + P(bn + ".bias");
            return (w, b);
        }
        (_embW, _embB) = Fold("embedding_net.0", "embedding_net.1");
        _embSlope = P("embedding_net.2.weight");
        var (w1, b1) = Fold("attention.0", "attention.1");
        int half = (int)(w1.shape[1] / 2);
        _attWa = w1.narrow(1, 0, half).contiguous();
        _attWb = w1.narrow(1, half, half).contiguous();
        _attB = b1;
        _attSlope1 = P("attention.2.weight");
        (_outW, _outB) = Fold("attention.3", "attention.4");
        _attSlope2 = P("attention.5.weight");
        foreach (var t in new[] { _embW, _embB, _embSlope, _attWa, _attWb, _attB, _attSlope1, _outW, _outB, _attSlope2 })
            t.MoveToOuterDisposeScope();
    }

    /// <summary>Per-face codes of grids [N,C,7,7].</summary>
    public FaceCode Encode(Tensor grid)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var cells = functional.normalize(grid, p: 2, dim: 1);
        var e = functional.prelu(functional.conv2d(grid, _embW, _embB, padding: [1, 1]), _embSlope);
        var first = functional.conv2d(e, _attWa, _attB, padding: [1, 1]);
        var second = functional.conv2d(e, _attWb, null, padding: [1, 1]);
        return new FaceCode(cells.MoveToOuterDisposeScope(), first.MoveToOuterDisposeScope(), second.MoveToOuterDisposeScope());
    }

    /// <summary>xCos of aligned pairs (row i of <paramref name="face1"/> with row i of <paramref name="face2"/>).</summary>
    public XcosScores Score(FaceCode face1, FaceCode face2)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var h = functional.prelu(face1.AsFirst + face2.AsSecond, _attSlope1);
        var logits = functional.prelu(functional.conv2d(h, _outW, _outB, padding: [1, 1]), _attSlope2).flatten(1);
        var att = _normalization == AttentionNormalization.Softmax
            ? functional.softmax(logits / _temperature, 1)
            : MinShiftSum(logits);
        // cells are unit vectors (or zero), so the cosine is their dot product
        var cos = (face1.Cells * face2.Cells).sum(1).flatten(1);
        var xcos = (cos * att).sum(1);
        long n = cos.shape[0], rows = face1.Cells.shape[2], cols = face1.Cells.shape[3];
        return new XcosScores(xcos.MoveToOuterDisposeScope(),
            cos.reshape(n, rows, cols).MoveToOuterDisposeScope(), att.reshape(n, rows, cols).MoveToOuterDisposeScope());
    }

    private static Tensor MinShiftSum(Tensor flat)
    {
        var shifted = flat - flat.min(1, keepdim: true).values;
        return shifted / shifted.sum(1, keepdim: true);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in new[] { _embW, _embB, _embSlope, _attWa, _attWb, _attB, _attSlope1, _outW, _outB, _attSlope2 })
            t.Dispose();
    }
}
