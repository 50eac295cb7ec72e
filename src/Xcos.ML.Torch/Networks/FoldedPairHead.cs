using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>
/// Per-face part of the xCos head, computed once per face and reused for every pair the face is in:
/// the L2-normalised grid cells and the face's share of the first attention convolution, in both pair positions.
/// </summary>
/// <param name="Cells">[N,H*W,C] the grid's cells, each C-vector L2-normalised (cell-major, so a pair's 49 dot products are one batched matmul).</param>
/// <param name="AsFirst">[N,16*H*W] the face's term of attention conv 1 when it is face 1 of a pair (bias included).</param>
/// <param name="AsSecond">[N,16*H*W] the face's term when it is face 2.</param>
public sealed record FaceCode(Tensor Cells, Tensor AsFirst, Tensor AsSecond) : IDisposable
{
    /// <summary>Faces whose codes are held (dimension 0 of the cell tensor).</summary>
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
/// an add, PReLU, the 16->1 convolution, the softmax and the 7x7 dot products. The 16->1 convolution on a 7x7 map is
/// applied as one dense [16*49, 49] matrix: a single GEMM over the batch is far faster than a convolution with one
/// output channel. Gives the same numbers as
/// <see cref="XcosModel.Score(Tensor, Tensor)"/> in eval mode (to float rounding).
/// </summary>
public sealed class FoldedPairHead : IDisposable
{
    private const double BnEps = 1e-5;
    private const int GridSide = 7;
    private readonly Tensor _embW, _embB, _embSlope;     // embedding_net: conv+BN folded, PReLU
    private readonly Tensor _attW, _attB;                 // attention conv 1 over concat(e1, e2), BN folded
    private readonly Tensor _attWab, _attBab, _attSlope1; // the same convolution split by face
    private readonly Tensor _outW, _outB, _attSlope2;    // attention conv 2 (16->1), BN folded
    private readonly Tensor _outMatrix;                    // _outW as a dense [16*49, 49] map for the 7x7 grid
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
        // both faces' shares of attention conv 1 in one convolution: output channels [0,16) as face 1, [16,32) as face 2
        _attWab = cat([w1.narrow(1, 0, half), w1.narrow(1, half, half)], 0).contiguous();
        _attBab = cat([b1, zeros_like(b1)], 0);
        _attW = w1;
        _attB = b1;
        _attSlope1 = P("attention.2.weight");
        (_outW, _outB) = Fold("attention.3", "attention.4");
        _attSlope2 = P("attention.5.weight");
        _outMatrix = ConvAsMatrix(_outW, GridSide, GridSide);
        foreach (var t in new[] { _embW, _embB, _embSlope, _attW, _attB, _attWab, _attBab, _attSlope1, _outW, _outB, _attSlope2, _outMatrix })
            t.MoveToOuterDisposeScope();
    }

    /// <summary>Per-face codes of grids [N,C,7,7].</summary>
    public FaceCode Encode(Tensor grid)
    {
        if (grid.ndim != 4 || grid.shape[2] != GridSide || grid.shape[3] != GridSide)
            throw new ArgumentException($"expected grids [N,C,{GridSide},{GridSide}], got [{string.Join(",", grid.shape)}]", nameof(grid));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long n = grid.shape[0], c = grid.shape[1], cells = grid.shape[2] * grid.shape[3];
        var unit = functional.normalize(grid, p: 2, dim: 1).reshape(n, c, cells).transpose(1, 2).contiguous();
        var e = functional.prelu(functional.conv2d(grid, _embW, _embB, padding: [1, 1]), _embSlope);
        var both = functional.conv2d(e, _attWab, _attBab, padding: [1, 1]);
        long half = both.shape[1] / 2;
        var first = both.narrow(1, 0, half).reshape(n, -1).contiguous();
        var second = both.narrow(1, half, half).reshape(n, -1).contiguous();
        return new FaceCode(unit.MoveToOuterDisposeScope(), first.MoveToOuterDisposeScope(), second.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// xCos of pairs of grids [N,C,7,7] whose faces are not reused: the attention convolution runs once per pair over
    /// concat(e1, e2), which costs half of computing both faces' split terms. For faces scored against many others,
    /// <see cref="Encode"/> them once and use <see cref="Score(FaceCode, FaceCode)"/>.
    /// </summary>
    public XcosScores Score(Tensor grid1, Tensor grid2)
    {
        if (grid1.ndim != 4 || grid1.shape[2] != GridSide || grid1.shape[3] != GridSide || !grid1.shape.SequenceEqual(grid2.shape))
            throw new ArgumentException($"expected two grids [N,C,{GridSide},{GridSide}] of one shape, got [{string.Join(",", grid1.shape)}] and [{string.Join(",", grid2.shape)}]");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long n = grid1.shape[0], c = grid1.shape[1];
        var e1 = functional.prelu(functional.conv2d(grid1, _embW, _embB, padding: [1, 1]), _embSlope);
        var e2 = functional.prelu(functional.conv2d(grid2, _embW, _embB, padding: [1, 1]), _embSlope);
        var h = functional.prelu(functional.conv2d(cat([e1, e2], 1), _attW, _attB, padding: [1, 1]), _attSlope1).reshape(n, -1);
        var u1 = functional.normalize(grid1, p: 2, dim: 1).reshape(n, c, -1).transpose(1, 2).contiguous();
        var u2 = functional.normalize(grid2, p: 2, dim: 1).reshape(n, c, -1).transpose(1, 2).contiguous();
        var result = Combine(h, u1, u2);
        return new XcosScores(result.Xcos.MoveToOuterDisposeScope(), result.CosMap.MoveToOuterDisposeScope(), result.Attention.MoveToOuterDisposeScope());
    }

    /// <summary>xCos of aligned pairs (row i of <paramref name="face1"/> with row i of <paramref name="face2"/>).</summary>
    public XcosScores Score(FaceCode face1, FaceCode face2)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // PReLU with one shared slope acts elementwise, so it applies to the flattened [N,16*H*W] sum as it is
        var h = functional.prelu(face1.AsFirst + face2.AsSecond, _attSlope1);
        var result = Combine(h, face1.Cells, face2.Cells);
        return new XcosScores(result.Xcos.MoveToOuterDisposeScope(), result.CosMap.MoveToOuterDisposeScope(), result.Attention.MoveToOuterDisposeScope());
    }

    // From the attention features h [N,16*49] (after the first PReLU) and unit cells [N,49,C] of both faces to the scores.
    private XcosScores Combine(Tensor h, Tensor cells1, Tensor cells2)
    {
        long n = cells1.shape[0], cells = cells1.shape[1], c = cells1.shape[2];
        const int side = GridSide;
        var logits = functional.prelu(addmm(_outB, h, _outMatrix, 1, 1), _attSlope2);
        var att = _normalization == AttentionNormalization.Softmax
            ? functional.softmax(logits / _temperature, 1)
            : MinShiftSum(logits);
        // cells are unit vectors (or zero), so the cosine is their dot product: N*H*W dot products of length C
        var cos = cells1.reshape(n * cells, 1, c).bmm(cells2.reshape(n * cells, c, 1)).reshape(n, cells);
        var xcos = (cos * att).sum(1);
        return new XcosScores(xcos, cos.reshape(n, side, side), att.reshape(n, side, side));
    }

    // The 3x3, padding-1 convolution from 16 channels to 1 on an HxW map as a dense linear map (rows c*HW + input cell,
    // columns output cell): conv(h) == h.flatten(1) @ M.
    private static Tensor ConvAsMatrix(Tensor weight, int height, int width)
    {
        var w = weight.cpu().data<float>().ToArray();   // [1, C, 3, 3]
        int channels = (int)weight.shape[1], cells = height * width;
        var m = new float[channels * cells * cells];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int ch = 0; ch < channels; ch++)
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int yy = y + dy, xx = x + dx;
                            if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
                            m[(ch * cells + yy * width + xx) * cells + y * width + x] += w[ch * 9 + (dy + 1) * 3 + dx + 1];
                        }
        return tensor(m, [channels * cells, cells], device: weight.device);
    }

    private static Tensor MinShiftSum(Tensor flat)
    {
        var shifted = flat - flat.min(1, keepdim: true).values;
        return shifted / shifted.sum(1, keepdim: true);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in new[] { _embW, _embB, _embSlope, _attW, _attB, _attWab, _attBab, _attSlope1, _outW, _outB, _attSlope2 })
            t.Dispose();
        _outMatrix.Dispose();
    }
}
