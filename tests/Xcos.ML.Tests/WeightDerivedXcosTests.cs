using Xcos.ML.Alignment;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Numerics;
using Xcos.ML.Onnx;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

public class WeightDerivedXcosTests
{
    private const int C = 4, H = 3, W = 3, D = 5;

    private static float[] Rand(Random r, int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();

    /// <summary>x -> Relu (the map) -> head. kind: "dw" BN + depthwise conv + 1x1 conv + reshape; "fc" flatten + Gemm + BN + Add; "relu" a non-affine head.</summary>
    internal static (OnnxModelFile Model, string Map) Build(string kind, int seed = 1)
    {
        var r = new Random(seed);
        var b = new OnnxGraphBuilder();
        var x = b.AddInput("x", [1, C, H, W]);
        var map = b.Relu(x, "map");
        string y;
        if (kind == "fc")
        {
            var f = b.Flatten(map);
            var g = b.Gemm(f, b.Initializer("fcw", Rand(r, D * C * H * W), [D, C * H * W]), b.Initializer("fcb", Rand(r, D), [D]));
            var bn = b.BatchNormalization(g, b.Initializer("s", Rand(r, D), [D]), b.Initializer("bb", Rand(r, D), [D]),
                b.Initializer("m", Rand(r, D), [D]), b.Initializer("v", Rand(r, D).Select(v => 1 + Math.Abs(v)).ToArray(), [D]));
            y = b.Add(bn, b.Initializer("k", Rand(r, D), [D]));
        }
        else
        {
            var bn = b.BatchNormalization(map, b.Initializer("s", Rand(r, C), [C]), b.Initializer("bb", Rand(r, C), [C]),
                b.Initializer("m", Rand(r, C), [C]), b.Initializer("v", Rand(r, C).Select(v => 1 + Math.Abs(v)).ToArray(), [C]));
            var dw = b.Conv(bn, b.Initializer("dw", Rand(r, C * H * W), [C, 1, H, W]), b.Initializer("dwb", Rand(r, C), [C]), group: C);
            if (kind == "relu") dw = b.Relu(dw);
            var lin = b.Conv(dw, b.Initializer("lw", Rand(r, D * C), [D, C, 1, 1]), b.Initializer("lb", Rand(r, D), [D]));
            y = b.Reshape(lin, [1, D]);
        }
        b.AddOutput(y, "emb", [1, D]);
        return (OnnxModelFile.FromModel(b.Build()), map);
    }

    private static float[] RunModel(OnnxModelFile m, float[] x)
    {
        var outs = OnnxGraphTests.Run(m.ToBytes(), new Dictionary<string, (float[], long[])> { ["x"] = (x, [1, C, H, W]) }, "emb");
        return outs["emb"].Data;
    }

    [Theory]
    [InlineData("dw", true)]
    [InlineData("fc", false)]
    public void Folded_head_rebuilds_the_onnx_embedding(string kind, bool diagonal)
    {
        var (model, map) = Build(kind);
        var head = WeightDerivedHead.Extract(model, map, "emb");
        Assert.Equal(diagonal, head.Diagonal);
        Assert.Equal((C, H, W, D), (head.Channels, head.Height, head.Width, head.Dim));
        var r = new Random(7);
        for (int t = 0; t < 3; t++)
        {
            var x = Rand(r, C * H * W).Select(Math.Abs).ToArray();  // positive so the Relu map equals x
            var expected = RunModel(model, x);
            var rebuilt = head.Embedding(head.CellFeatures(x));
            for (int i = 0; i < D; i++) Assert.Equal(expected[i], rebuilt[i], 4);
        }
    }

    [Fact]
    public void Non_affine_head_is_refused_naming_the_op()
    {
        var (model, map) = Build("relu");
        var ex = Assert.Throws<NotSupportedException>(() => WeightDerivedHead.Extract(model, map, "emb"));
        Assert.Contains("Relu", ex.Message);
    }

    [Theory]
    [InlineData("dw")]
    [InlineData("fc")]
    public void Kernel_energy_is_each_cells_share_of_the_squared_frobenius_norm(string kind)
    {
        var head = WeightDerivedHead.Extract(Build(kind).Model, "map", "emb");
        // ||A_c||_F^2 = sum_ch ||A_c e_ch||^2, and A_c e_ch is the cell feature of a one-hot map.
        var brute = new double[H * W];
        for (int ch = 0; ch < C; ch++)
            for (int cell = 0; cell < H * W; cell++)
            {
                var g = new float[C * H * W];
                g[ch * H * W + cell] = 1;
                var u = head.CellFeatures(g);
                brute[cell] += u.Skip(cell * D).Take(D).Sum(v => (double)v * v);
            }
        double total = brute.Sum();
        var energy = head.KernelEnergy();
        Assert.Equal(1.0, energy.Sum(v => (double)v), 5);
        for (int c = 0; c < H * W; c++) Assert.Equal(brute[c] / total, energy[c], 5);
    }

    [Theory]
    [InlineData(WeightDerivedAttention.Kernel, false)]
    [InlineData(WeightDerivedAttention.Pair, true)]
    public void Contributions_sum_exactly_to_the_cosine(WeightDerivedAttention attention, bool centre)
    {
        var (model, map) = Build("dw", 3);
        var head = WeightDerivedHead.Extract(model, map, "emb");
        var r = new Random(11);
        var means = centre ? Rand(r, head.Cells * head.Dim, 0.1) : null;
        var xc = new WeightDerivedXcos(head, means, new WeightDerivedXcosOptions { Attention = attention, Centre = centre });
        for (int t = 0; t < 5; t++)
        {
            var a = Rand(r, C * H * W).Select(Math.Abs).ToArray();
            var b = Rand(r, C * H * W).Select(Math.Abs).ToArray();
            var e = xc.Explain(a, b);
            Assert.Equal(e.Cosine, e.Contributions.Sum(v => (double)v) + e.BiasContribution, 5);
            Assert.Equal(VectorMath.Cosine(RunModel(model, a), RunModel(model, b)), e.Cosine, 4);
            Assert.Equal(1.0, e.Attention.Sum(v => (double)v), 5);
            Assert.Equal(e.Xcos, e.CosMap.Zip(e.Attention).Sum(p => (double)p.First * p.Second), 5);
            Assert.All(e.CosMap, v => Assert.InRange(v, -1.0001f, 1.0001f));
        }
        // Identical inputs: cosine 1 and every cell cosine 1.
        var same = Rand(r, C * H * W).Select(Math.Abs).ToArray();
        var s = xc.Explain(same, same);
        Assert.Equal(1.0, s.Cosine, 5);
        Assert.All(s.CosMap, v => Assert.Equal(1f, v, 4));
    }

    [Theory]
    [InlineData(WeightDerivedAttention.Kernel, true, false)]
    [InlineData(WeightDerivedAttention.Pair, false, true)]
    [InlineData(WeightDerivedAttention.Contribution, false, false)]
    public void A_shortlist_in_one_call_explains_each_pair_as_the_pair_call_does(WeightDerivedAttention attention, bool centre, bool matched)
    {
        var (model, map) = Build("dw", 3);
        var head = WeightDerivedHead.Extract(model, map, "emb");
        var r = new Random(12);
        var means = centre ? Rand(r, head.Cells * head.Dim, 0.1) : null;
        var xc = new WeightDerivedXcos(head, means, new WeightDerivedXcosOptions { Attention = attention, Centre = centre, MatchCosine = matched, Scale = 1.5, Offset = -0.2 });
        var probe = head.CellFeatures(Rand(r, C * H * W).Select(Math.Abs).ToArray());
        var others = Enumerable.Range(0, 6).Select(_ => head.CellFeatures(Rand(r, C * H * W).Select(Math.Abs).ToArray())).Append(probe).ToArray();
        var many = xc.ExplainCellsMany(probe, others);
        Assert.Equal(others.Length, many.Length);
        for (int k = 0; k < others.Length; k++)
        {
            var one = xc.ExplainCells(probe, others[k]);
            Assert.Equal(one.Xcos, many[k].Xcos, 6);
            Assert.Equal(one.Cosine, many[k].Cosine, 6);
            Assert.Equal(one.BiasContribution, many[k].BiasContribution, 6);
            Assert.Equal(one.Shift, many[k].Shift, 6);
            Assert.Equal(one.Variant, many[k].Variant);
            for (int c = 0; c < head.Cells; c++)
            {
                Assert.Equal(one.CosMap[c], many[k].CosMap[c], 5);
                Assert.Equal(one.Attention[c], many[k].Attention[c], 6);
                Assert.Equal(one.Contributions[c], many[k].Contributions[c], 6);
            }
        }
        Assert.Empty(xc.ExplainCellsMany(probe, []));
        Assert.Throws<ArgumentException>(() => xc.ExplainCellsMany(probe, [new float[3]]));
    }

    /// <summary>Pairs of positive maps: "same" = the first map plus small noise, "different" = an independent map.</summary>
    private static List<(float[] A, float[] B, bool Same)> RandomPairs(int n, int seed)
    {
        var r = new Random(seed);
        var list = new List<(float[], float[], bool)>();
        for (int i = 0; i < n; i++)
        {
            var a = Rand(r, C * H * W).Select(Math.Abs).ToArray();
            bool same = i % 2 == 0;
            // noise of varying size so that same and different scores overlap and the ranking is not trivial
            var b = same ? a.Select(v => Math.Abs(v + (float)((r.NextDouble() * 2 - 1) * (0.2 + i * 0.02)))).ToArray() : Rand(r, C * H * W).Select(Math.Abs).ToArray();
            list.Add((a, b, same));
        }
        return list;
    }

    [Theory]
    [InlineData(WeightDerivedAttention.Kernel, false)]
    [InlineData(WeightDerivedAttention.Kernel, true)]
    [InlineData(WeightDerivedAttention.Pair, true)]
    [InlineData(WeightDerivedAttention.Contribution, false)]
    public void Affine_calibration_keeps_xcos_the_attention_weighted_map_and_keeps_the_ranking(WeightDerivedAttention attention, bool centre)
    {
        var head = WeightDerivedHead.Extract(Build("dw", 4).Model, "map", "emb");
        var means = centre ? Rand(new Random(2), head.Cells * head.Dim, 0.1) : null;
        var plain = new WeightDerivedXcos(head, means, new() { Attention = attention, Centre = centre });
        const double A = 3.5, B = -2.25;
        var cal = new WeightDerivedXcos(head, means, new() { Attention = attention, Centre = centre, Scale = A, Offset = B });
        var pairs = RandomPairs(40, 9);
        var p = pairs.Select(q => plain.Explain(q.A, q.B)).ToArray();
        var c = pairs.Select(q => cal.Explain(q.A, q.B)).ToArray();
        for (int i = 0; i < pairs.Count; i++)
        {
            Assert.Equal(A * p[i].Xcos + B, c[i].Xcos, 1e-5);
            Assert.Equal(c[i].Xcos, c[i].CosMap.Zip(c[i].Attention).Sum(t => (double)t.First * t.Second), 1e-5);
            for (int k = 0; k < head.Cells; k++) Assert.Equal(A * p[i].CosMap[k] + B, c[i].CosMap[k], 1e-4);
            Assert.Equal(p[i].Attention, c[i].Attention);
            Assert.Equal(p[i].Contributions, c[i].Contributions);
        }
        var same = pairs.Select(q => q.Same).ToArray();
        double aucPlain = VerificationMetrics.Auc(p.Select(e => e.Xcos).ToArray(), same);
        Assert.InRange(aucPlain, 0.3, 0.999);  // not separable, so a changed order could show in the AUC
        // the order itself is kept, pair for pair
        Assert.Equal(Enumerable.Range(0, p.Length).OrderBy(i => p[i].Xcos), Enumerable.Range(0, c.Length).OrderBy(i => c[i].Xcos));
        Assert.Equal(aucPlain, VerificationMetrics.Auc(c.Select(e => e.Xcos).ToArray(), same), 12);
        Assert.Equal($"weights/{attention.ToString().ToLowerInvariant()}/{(centre ? "centred" : "raw")}/affine(a=3.5,b=-2.25)", c[0].Variant);
    }

    [Fact]
    public void Matching_the_cosine_shifts_every_cell_by_the_residual()
    {
        var head = WeightDerivedHead.Extract(Build("dw", 5).Model, "map", "emb");
        var affine = new WeightDerivedXcos(head, null, new() { Centre = false, Scale = 2, Offset = -1 });
        var matched = new WeightDerivedXcos(head, null, new() { Centre = false, Scale = 2, Offset = -1, MatchCosine = true });
        foreach (var (a, b, _) in RandomPairs(6, 3))
        {
            var x = affine.Explain(a, b);
            var m = matched.Explain(a, b);
            Assert.Equal(m.Cosine, m.Xcos, 1e-6);
            Assert.Equal(m.Xcos, m.CosMap.Zip(m.Attention).Sum(t => (double)t.First * t.Second), 1e-5);
            Assert.Equal(x.Cosine - x.Xcos, m.Shift, 1e-6);
            for (int k = 0; k < head.Cells; k++) Assert.Equal(x.CosMap[k] + m.Shift, m.CosMap[k], 1e-4);
            Assert.EndsWith("/matched", m.Variant);
        }
    }

    [Fact]
    public void Contribution_attention_weighs_each_cells_cosine_with_the_other_embedding()
    {
        var head = WeightDerivedHead.Extract(Build("fc", 6).Model, "map", "emb");
        var xc = new WeightDerivedXcos(head, null, new() { Attention = WeightDerivedAttention.Contribution, Centre = false });
        foreach (var (a, b, _) in RandomPairs(4, 8))
        {
            var e = xc.Explain(a, b);
            Assert.Equal(1.0, e.Attention.Sum(v => (double)v), 1e-5);
            Assert.All(e.CosMap, v => Assert.InRange(v, -1.0001f, 1.0001f));
            // att_c * map_c = contribution_c / sum_c w_c: the same ratio for every cell, so xCos = (cosine - bias part) / sum w
            var ratios = Enumerable.Range(0, head.Cells).Where(k => Math.Abs(e.Contributions[k]) > 1e-3)
                .Select(k => e.Attention[k] * e.CosMap[k] / e.Contributions[k]).ToArray();
            Assert.True(ratios.Length > 3);
            Assert.All(ratios, q => Assert.Equal(ratios[0], q, Math.Abs(ratios[0]) * 1e-3));
            Assert.Equal((e.Cosine - e.BiasContribution) * ratios[0], e.Xcos, 1e-3);
        }
        Assert.Throws<ArgumentException>(() => new WeightDerivedXcos(head, null, new() { Attention = WeightDerivedAttention.Contribution, Centre = true }));
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(-1.0, 0.0)]
    [InlineData(double.NaN, 0.0)]
    [InlineData(1.0, double.PositiveInfinity)]
    public void A_calibration_that_is_not_increasing_or_not_finite_is_refused(double scale, double offset)
    {
        var head = WeightDerivedHead.Extract(Build("dw").Model, "map", "emb");
        var e = Assert.Throws<ArgumentException>(() => new WeightDerivedXcos(head, null, new() { Centre = false, Scale = scale, Offset = offset }));
        Assert.Contains("slope", e.Message);
    }

    [Fact]
    public void Cell_means_file_round_trips_and_rejects_bad_files()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-cal-").FullName;
        var p = Path.Combine(dir, "m.f16");
        var m = Enumerable.Range(0, 6).Select(i => i * 0.25f - 0.5f).ToArray();
        CellMeansFile.Write(p, m, 2, 3);
        var (back, cells, dim) = CellMeansFile.Read(p, 2, 3);
        Assert.Equal((2, 3), (cells, dim));
        Assert.Equal(m, back);
        Assert.Contains("2x3", Assert.Throws<InvalidDataException>(() => CellMeansFile.Read(p, 49, 512)).Message);
        File.WriteAllBytes(p, File.ReadAllBytes(p)[..^2]);
        Assert.Contains(p, Assert.Throws<InvalidDataException>(() => CellMeansFile.Read(p)).Message);
        File.WriteAllBytes(p, new byte[20]);
        Assert.Contains("XCOSCAL1", Assert.Throws<InvalidDataException>(() => CellMeansFile.Read(p)).Message);
        Directory.Delete(dir, true);
    }

    [RealModelsFact]
    public void Fr_feature_embedding_is_affine_in_its_last_7x7_map()
    {
        var dir = RealFaces.ModelsDir()!;
        var d = FaceModelDescriptor.Load(FaceModelDescriptor.ShippedPath());
        d.FeatureMapName = null;  // find it by shape
        using var emb = new OnnxFaceEmbedder(d, Path.Combine(dir, d.OnnxFile));
        Assert.Equal("507", emb.FeatureMapName);
        Assert.Equal([512, 7, 7], emb.MapShape);
        var head = WeightDerivedHead.Extract(emb.Model, emb.FeatureMapName, emb.EmbeddingName);
        Assert.True(head.Diagonal);
        Assert.Equal(["Conv(662)", "Conv(665)", "Reshape(output)"], head.FoldedOps);
        // Two face-like inputs: smooth random images (no photos needed).
        var r = new Random(5);
        var faces = Enumerable.Range(0, 2).Select(_ =>
        {
            var img = new RgbImage(112, 112);
            for (int y = 0; y < 112; y++) for (int x = 0; x < 112; x++) for (int c = 0; c < 3; c++)
                img.Pixels[(y * 112 + x) * 3 + c] = (byte)(128 + 60 * Math.Sin(x / (7.0 + r.Next(5)) + c) * Math.Cos(y / (9.0 + r.Next(5))));
            return img;
        }).ToList();
        var es = emb.Embed(faces);
        foreach (var e in es)
        {
            var rebuilt = head.Embedding(head.CellFeatures(e.FeatureMap));
            double maxErr = rebuilt.Zip(e.Embedding).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(maxErr < 1e-4, $"affine reconstruction differs from the model's embedding by {maxErr}");
        }
        var xc = new WeightDerivedXcos(head, null, new WeightDerivedXcosOptions { Centre = false });
        var ex = xc.Explain(es[0].FeatureMap, es[1].FeatureMap);
        Assert.Equal(49, ex.Contributions.Length);
        Assert.Equal(ex.Cosine, ex.Contributions.Sum(v => (double)v) + ex.BiasContribution, 5);
        Assert.Equal(VectorMath.Cosine(es[0].Embedding, es[1].Embedding), ex.Cosine, 4);
    }
}
