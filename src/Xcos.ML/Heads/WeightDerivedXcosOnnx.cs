using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Heads;

/// <summary>
/// The weight-derived xCos of <see cref="WeightDerivedXcos"/> as an ONNX graph, so an ML.NET pipeline can hold it in its
/// .zip and ONNX Runtime can run it: inputs <c>map1</c>, <c>map2</c> [1,C,H,W] (the face model's last map) and
/// <c>embedding1</c>, <c>embedding2</c> [1,D] (its embedding output); outputs <c>cos_map</c>, <c>attention</c>,
/// <c>contributions</c> [1,H*W], <c>score</c> (xCos) and <c>cosine</c> (of the model's embeddings) [1].
/// </summary>
/// <remarks>
/// Same arithmetic as <see cref="WeightDerivedXcos.ExplainCells"/> in float32 (the C# path accumulates in double; the
/// two agree to about 1e-6): cell features <c>U = P K_c g_c</c>, centring on the calibration means, cell cosines
/// (0 where a norm is 0), kernel or pair attention, xCos, and the exact contributions of the rebuilt embeddings.
/// </remarks>
public static class WeightDerivedXcosOnnx
{
    /// <summary>Value names of the graph.</summary>
    public const string Map1 = "map1", Map2 = "map2", Embedding1 = "embedding1", Embedding2 = "embedding2",
        CosMap = "cos_map", Attention = "attention", Contributions = "contributions", Score = "score", Cosine = "cosine";

    /// <summary>
    /// The embedding cosine alone (inputs <see cref="Embedding1"/>, <see cref="Embedding2"/> [1, dim]; output
    /// <see cref="Cosine"/>), for a model whose map does not feed its embedding and so has no weight-derived xCos.
    /// </summary>
    public static ModelProto BuildCosine(int dim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        var b = new OnnxGraphBuilder("embedding_cosine");
        string e1 = b.AddInput(Embedding1, [1, dim]);
        string e2 = b.AddInput(Embedding2, [1, dim]);
        AddEmbeddingCosine(b, e1, e2, b.Scalar(1e-30f, "tiny"));
        return b.Build(docString: "cosine of two face embeddings (Xcos.ML)");
    }

    // The decision's cosine: of the model's own embeddings, as the face model's users compute it.
    private static void AddEmbeddingCosine(OnnxGraphBuilder b, string e1, string e2, string tiny)
    {
        string dot = b.ReduceSum(b.Mul(e1, e2), [1], keepDims: false, "embedding_dot");
        string n1 = b.Sqrt(b.ReduceSum(b.Mul(e1, e1), [1], keepDims: false));
        string n2 = b.Sqrt(b.ReduceSum(b.Mul(e2, e2), [1], keepDims: false));
        b.AddOutput(b.Div(dot, b.Max(b.Mul(n1, n2), tiny), "embedding_cos"), Cosine, [1]);
    }

    /// <summary>Builds the graph of <paramref name="xcos"/> for one pair (batch 1).</summary>
    public static ModelProto Build(WeightDerivedXcos xcos)
    {
        ArgumentNullException.ThrowIfNull(xcos);
        float[]? cellMeans = xcos.CellMeans.IsEmpty ? null : xcos.CellMeans.ToArray();
        var h = xcos.Head;
        int c = h.Channels, cells = h.Cells, r = h.ReducedDim, dim = h.Dim;
        var b = new OnnxGraphBuilder("weight_derived_xcos");
        string m1 = b.AddInput(Map1, [1, c, h.Height, h.Width]);
        string m2 = b.AddInput(Map2, [1, c, h.Height, h.Width]);
        string e1 = b.AddInput(Embedding1, [1, dim]);
        string e2 = b.AddInput(Embedding2, [1, dim]);

        // P^T (R x Dim) so that rows of cell vectors multiply from the left.
        var pt = new float[r * dim];
        var p = h.Projection;
        for (int o = 0; o < dim; o++) for (int j = 0; j < r; j++) pt[j * dim + o] = p[o * r + j];
        string projT = b.Initializer("projection_t", pt, [r, dim]);
        string kernel = h.Diagonal ? b.Initializer("kernel", h.Kernel.ToArray(), [cells, c]) : b.Initializer("kernel", h.Kernel.ToArray(), [cells, r, c]);
        string bias = b.Initializer("bias", h.Bias.ToArray(), [dim]);
        string tiny = b.Scalar(1e-30f, "tiny");

        // Cell features U [cells, dim] of one map.
        string Cells(string map, string tag)
        {
            string g = b.Op("Transpose", [b.Reshape(map, [c, cells], tag + "_flat")], tag + "_cells", OnnxAttr.Ints("perm", [1, 0]));   // [cells, C]
            string v = h.Diagonal
                ? b.Mul(g, kernel, tag + "_reduced")                                                                      // [cells, C] (R = C)
                : b.Reshape(b.MatMul(kernel, b.Reshape(g, [cells, c, 1], tag + "_col")), [cells, r], tag + "_reduced");   // [cells, R]
            return b.MatMul(v, projT, tag + "_u");                                                                         // [cells, Dim]
        }
        string u1 = Cells(m1, "face1"), u2 = Cells(m2, "face2");
        string Rows(string x, string y, string tag) => b.ReduceSum(b.Mul(x, y), [1], keepDims: false, tag);
        string Norm(string x, string tag) => b.Sqrt(Rows(x, x, tag + "_sq"), tag);

        // The rebuilt embeddings e = sum_c u_c + b, their norms, and each cell's exact share of their cosine.
        string re1 = b.Add(b.ReduceSum(u1, [0], keepDims: false, "face1_e_sum"), bias, "face1_e");
        string re2 = b.Add(b.ReduceSum(u2, [0], keepDims: false, "face2_e_sum"), bias, "face2_e");
        string en1 = b.Sqrt(b.ReduceSum(b.Mul(re1, re1), [0], keepDims: false), "face1_e_norm");
        string en2 = b.Sqrt(b.ReduceSum(b.Mul(re2, re2), [0], keepDims: false), "face2_e_norm");
        string nn = b.Max(b.Mul(en1, en2, "e_norm_product"), tiny);
        string two = b.Scalar(2f, "two");
        string cross = b.Reshape(b.Add(b.MatMul(u1, b.Reshape(re2, [dim, 1])), b.MatMul(u2, b.Reshape(re1, [dim, 1])), "cell_cross"), [cells]);
        string contrib = b.Div(cross, b.Mul(nn, two), "contributions_cells");                                      // [cells]
        b.AddOutput(b.Reshape(contrib, [1, cells], "contributions_batched"), Contributions, [1, cells]);
        string rebuiltCos = b.Div(b.ReduceSum(b.Mul(re1, re2), [0], keepDims: false), nn, "rebuilt_cos");

        var opt = xcos.Options;
        string cos, att;
        if (opt.Attention == WeightDerivedAttention.Contribution)
        {
            // Weights from each cell's contribution energy; the map is each cell's contribution per unit of that weight.
            string un1 = Norm(u1, "face1_u_norm"), un2 = Norm(u2, "face2_u_norm");
            string w = b.Div(b.Add(b.Mul(un1, en2), b.Mul(un2, en1)), b.Mul(nn, two), "contribution_weight");
            cos = b.Div(contrib, b.Max(w, tiny), "contribution_cos");
            att = b.Div(w, b.Max(b.ReduceSum(w, [0], keepDims: true), tiny), "contribution_attention");
        }
        else
        {
            // Cell cosines, centred on the calibration means when the explainer centres.
            string a1 = u1, a2 = u2;
            if (opt.Centre && cellMeans is not null)
            {
                string mu = b.Initializer("cell_means", cellMeans, [cells, dim]);
                a1 = b.Sub(u1, mu, "face1_centred");
                a2 = b.Sub(u2, mu, "face2_centred");
            }
            string na1 = Norm(a1, "face1_cell_norm"), na2 = Norm(a2, "face2_cell_norm");
            cos = b.Div(Rows(a1, a2, "cell_dot"), b.Max(b.Mul(na1, na2), tiny), "cell_cos");          // 0 where a norm is 0
            if (opt.Attention == WeightDerivedAttention.Kernel) att = b.Initializer("kernel_attention", h.KernelEnergy(), [cells]);
            else
            {
                string pn = b.Mul(Norm(u1, "face1_u_norm"), Norm(u2, "face2_u_norm"), "pair_energy");
                att = b.Div(pn, b.Max(b.ReduceSum(pn, [0], keepDims: true), tiny), "pair_attention");
            }
        }
        // The affine calibration a*cos_c + b, then (when matched) the pair's residual to the cosine added to every cell.
        if (opt.IsCalibrated) cos = b.Add(b.Mul(cos, b.Scalar((float)opt.Scale, "calibration_scale")), b.Scalar((float)opt.Offset, "calibration_offset"), "calibrated_cos");
        string Weighted(string map) => b.ReduceSum(b.Mul(map, att), [0], keepDims: true);
        if (opt.MatchCosine) cos = b.Add(cos, b.Sub(b.Reshape(rebuiltCos, [1]), Weighted(cos), "match_shift"), "matched_cos");
        b.AddOutput(b.Reshape(cos, [1, cells], "cos_map_batched"), CosMap, [1, cells]);
        b.AddOutput(b.Reshape(att, [1, cells], "attention_batched"), Attention, [1, cells]);
        b.AddOutput(Weighted(cos), Score, [1]);

        AddEmbeddingCosine(b, e1, e2, tiny);
        return b.Build(docString: "weight-derived xCos of an affine face-embedding head (Xcos.ML)");
    }
}
