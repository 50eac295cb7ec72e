using System.Numerics.Tensors;
using Xcos.ML.Explain;
using Xcos.ML.Numerics;

namespace Xcos.ML.Heads;

/// <summary>
/// The cosine of two faces' embeddings as a function of their last feature maps, for a model whose embedding is affine
/// in the map (<see cref="WeightDerivedHead"/>: <c>e = sum_c M_c g_c + b</c> with <c>M_c = P K_c</c>), with its exact
/// gradient: <c>d cos / d e1 = e2 / (|e1| |e2|) - cos e1 / |e1|^2</c> and <c>d cos / d g1_c = M_c^T (d cos / d e1)</c>
/// (likewise for face 2). This lets Grad-CAM run on an ONNX face model without autograd.
/// </summary>
/// <remarks>
/// The per-cell matrices M_c are read once from the head by probing (a map that is 1 on one channel at every cell gives
/// column <c>ch</c> of every M_c; these products have a single non-zero term, so the columns are exact) and kept as
/// <c>Cells x C x Dim</c> floats (about 51 MB for fr_feature's 49 x 512 x 512). Thread-safe.
/// </remarks>
public sealed class AffineHeadScorer : IMapScorer
{
    private readonly float[] _mt;   // cell-major M_c^T: [cell][channel][dim]

    /// <summary>Reads the per-cell linear maps of <paramref name="head"/>.</summary>
    public AffineHeadScorer(WeightDerivedHead head)
    {
        Head = head ?? throw new ArgumentNullException(nameof(head));
        int c = head.Channels, cells = head.Cells, dim = head.Dim;
        _mt = new float[(long)cells * c * dim <= int.MaxValue ? cells * c * dim
            : throw new NotSupportedException($"a {cells}x{c}x{dim} head is too large to hold as dense per-cell matrices")];
        Parallel.For(0, c, () => new float[c * cells], (ch, _, probe) =>
        {
            Array.Clear(probe);
            probe.AsSpan(ch * cells, cells).Fill(1f);
            var u = head.CellFeatures(probe);  // row `cell` = M_cell[:, ch]
            for (int cell = 0; cell < cells; cell++)
                u.AsSpan(cell * dim, dim).CopyTo(_mt.AsSpan((cell * c + ch) * dim, dim));
            return probe;
        }, _ => { });
    }

    /// <summary>The folded ONNX head whose per-cell linear maps give the scores.</summary>
    public WeightDerivedHead Head { get; }

    /// <inheritdoc/>
    public int Channels => Head.Channels;

    /// <inheritdoc/>
    public int Height => Head.Height;

    /// <inheritdoc/>
    public int Width => Head.Width;

    /// <summary>The embedding of one CHW map (<c>sum_c M_c g_c + b</c>), equal to the model's embedding output up to float rounding.</summary>
    public float[] Embedding(ReadOnlySpan<float> map) => Head.Embedding(Head.CellFeatures(map));

    /// <inheritdoc/>
    public float Score(float[] map1, float[] map2)
    {
        ArgumentNullException.ThrowIfNull(map1);
        ArgumentNullException.ThrowIfNull(map2);
        return (float)VectorMath.Cosine(Embedding(map1), Embedding(map2));
    }

    /// <inheritdoc/>
    public MapGradient Gradient(float[] map1, float[] map2)
    {
        ArgumentNullException.ThrowIfNull(map1);
        ArgumentNullException.ThrowIfNull(map2);
        var e1 = Embedding(map1);
        var e2 = Embedding(map2);
        // VectorMath.Cosine refuses an embedding without a direction, which has no gradient either
        double cos = VectorMath.Cosine(e1, e2);
        double n1 = Norm(e1), n2 = Norm(e2);
        var v1 = new float[e1.Length];
        var v2 = new float[e2.Length];
        for (int i = 0; i < v1.Length; i++)
        {
            v1[i] = (float)(e2[i] / (n1 * n2) - cos * e1[i] / (n1 * n1));
            v2[i] = (float)(e1[i] / (n1 * n2) - cos * e2[i] / (n2 * n2));
        }
        return new MapGradient((float)cos, MapGradientOf(v1), MapGradientOf(v2));
    }

    /// <summary>
    /// The gradient with respect to the map (CHW) of <c>v . e(map)</c> for a fixed vector v over the embedding:
    /// <c>M_c^T v</c> at every cell c. The map itself does not enter (e is affine).
    /// </summary>
    public float[] MapGradientOf(ReadOnlySpan<float> embeddingGradient)
    {
        int c = Channels, cells = Head.Cells, dim = Head.Dim;
        if (embeddingGradient.Length != dim) throw new ArgumentException($"embedding gradient has {embeddingGradient.Length} values; the head's embedding has {dim}", nameof(embeddingGradient));
        var g = new float[c * cells];
        for (int cell = 0; cell < cells; cell++)
            for (int ch = 0; ch < c; ch++)
                g[ch * cells + cell] = TensorPrimitives.Dot(_mt.AsSpan((cell * c + ch) * dim, dim), embeddingGradient);
        return g;
    }

    private static double Norm(ReadOnlySpan<float> a)
    {
        double s = 0;
        foreach (var x in a) s += (double)x * x;
        return Math.Sqrt(s);
    }
}
