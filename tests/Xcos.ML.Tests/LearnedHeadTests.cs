using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Alignment;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Numerics;
using Xcos.ML.Onnx;
using Xcos.ML.Verification;

namespace Xcos.ML.Tests;

public class LearnedHeadTests
{
    private const int C = 16, G = 8, K = 16;  // map channels, grid channels, face-code channels (the paper's 16)

    // Random xCos head weights under checkpoint names, BN with non-trivial statistics.
    private static Dictionary<string, WeightTensor> Weights(int seed)
    {
        var r = new Random(seed);
        float U(double s) => (float)((r.NextDouble() * 2 - 1) * s);
        var w = new Dictionary<string, WeightTensor>();
        void Conv(string p, int cout, int cin, int k) { w[p + ".weight"] = new(Enumerable.Range(0, cout * cin * k * k).Select(_ => U(1.0 / Math.Sqrt(cin * k * k))).ToArray(), [cout, cin, k, k]); w[p + ".bias"] = new(Enumerable.Range(0, cout).Select(_ => U(0.1)).ToArray(), [cout]); }
        void Bn(string p, int c)
        {
            w[p + ".weight"] = new(Enumerable.Range(0, c).Select(_ => 1 + U(0.3)).ToArray(), [c]);
            w[p + ".bias"] = new(Enumerable.Range(0, c).Select(_ => U(0.2)).ToArray(), [c]);
            w[p + ".running_mean"] = new(Enumerable.Range(0, c).Select(_ => U(0.2)).ToArray(), [c]);
            w[p + ".running_var"] = new(Enumerable.Range(0, c).Select(_ => 0.5f + (float)r.NextDouble()).ToArray(), [c]);
        }
        void PRelu(string p, int c) => w[p + ".weight"] = new(Enumerable.Range(0, c).Select(_ => 0.25f + U(0.1)).ToArray(), [c]);
        Conv("backbone.conv1x1.0", G, C, 1); Bn("backbone.conv1x1.1", G); PRelu("backbone.conv1x1.2", G);
        Conv("attention.embedding_net.0", K, G, 3); Bn("attention.embedding_net.1", K); PRelu("attention.embedding_net.2", 1);
        Conv("attention.attention.0", 16, 2 * K, 3); Bn("attention.attention.1", 16); PRelu("attention.attention.2", 1);
        Conv("attention.attention.3", 1, 16, 3); Bn("attention.attention.4", 1); PRelu("attention.attention.5", 1);
        return w;
    }

    // Reference in float64 straight from the checkpoint weights (eval-mode BN, zero padding): conv + BN + PReLU.
    private static double[] Layer(Dictionary<string, WeightTensor> w, string conv, string bn, string prelu, double[] x, int cin)
    {
        var cw = w[conv + ".weight"]; int cout = (int)cw.Shape[0], k = (int)cw.Shape[2], pad = k / 2;
        var y = new double[cout * 49];
        for (int o = 0; o < cout; o++)
        {
            double s = w[bn + ".weight"].Data[o] / Math.Sqrt(w[bn + ".running_var"].Data[o] + 1e-5);
            double slope = w[prelu + ".weight"].Data.Length == 1 ? w[prelu + ".weight"].Data[0] : w[prelu + ".weight"].Data[o];
            for (int py = 0; py < 7; py++)
                for (int px = 0; px < 7; px++)
                {
                    double acc = w[conv + ".bias"].Data[o];
                    for (int i = 0; i < cin; i++)
                        for (int dy = 0; dy < k; dy++)
                            for (int dx = 0; dx < k; dx++)
                            {
                                int yy = py + dy - pad, xx = px + dx - pad;
                                if (yy is < 0 or >= 7 || xx is < 0 or >= 7) continue;
                                acc += cw.Data[((o * cin + i) * k + dy) * k + dx] * x[i * 49 + yy * 7 + xx];
                            }
                    double v = (acc - w[bn + ".running_mean"].Data[o]) * s + w[bn + ".bias"].Data[o];
                    y[o * 49 + py * 7 + px] = v >= 0 ? v : v * slope;
                }
        }
        return y;
    }

    private static (double Xcos, double[] Cos, double[] Att) Reference(Dictionary<string, WeightTensor> w, float[] m1, float[] m2)
    {
        var g1 = Layer(w, "backbone.conv1x1.0", "backbone.conv1x1.1", "backbone.conv1x1.2", m1.Select(v => (double)v).ToArray(), C);
        var g2 = Layer(w, "backbone.conv1x1.0", "backbone.conv1x1.1", "backbone.conv1x1.2", m2.Select(v => (double)v).ToArray(), C);
        var e1 = Layer(w, "attention.embedding_net.0", "attention.embedding_net.1", "attention.embedding_net.2", g1, G);
        var e2 = Layer(w, "attention.embedding_net.0", "attention.embedding_net.1", "attention.embedding_net.2", g2, G);
        var h = Layer(w, "attention.attention.0", "attention.attention.1", "attention.attention.2", [.. e1, .. e2], 2 * K);
        var logits = Layer(w, "attention.attention.3", "attention.attention.4", "attention.attention.5", h, 16);
        double mx = logits.Max();
        var att = logits.Select(v => Math.Exp(v - mx)).ToArray();
        double z = att.Sum();
        for (int i = 0; i < 49; i++) att[i] /= z;
        var cos = new double[49];
        for (int p = 0; p < 49; p++)
        {
            double ab = 0, aa = 0, bb = 0;
            for (int c = 0; c < G; c++) { ab += g1[c * 49 + p] * g2[c * 49 + p]; aa += g1[c * 49 + p] * g1[c * 49 + p]; bb += g2[c * 49 + p] * g2[c * 49 + p]; }
            cos[p] = ab / Math.Sqrt(aa * bb);
        }
        return (cos.Zip(att).Sum(t => t.First * t.Second), cos, att);
    }

    private static float[] RandomMaps(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n * C * 49).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    private static byte[] HeadBytes(Dictionary<string, WeightTensor> w, string? faceModel = "toy")
    {
        var m = XcosOnnxExport.BuildMapHeadModel(w);
        if (faceModel is not null) m.MetadataProps.Add(new Onnx.Proto.StringStringEntryProto { Key = LearnedHead.FaceModelKey, Value = faceModel });
        return m.ToByteArray();
    }

    [Fact]
    public void Onnx_map_head_matches_a_float64_reference_of_the_checkpoint_weights()
    {
        var w = Weights(3);
        using var head = new LearnedHead(HeadBytes(w));
        Assert.Equal(C, head.Channels);
        Assert.Equal("toy", head.FaceModel);
        var m1 = RandomMaps(3, 10);
        var m2 = RandomMaps(3, 11);
        var got = head.Explain(m1, m2, 3);
        for (int n = 0; n < 3; n++)
        {
            var want = Reference(w, m1[(n * C * 49)..((n + 1) * C * 49)], m2[(n * C * 49)..((n + 1) * C * 49)]);
            Assert.Equal(want.Xcos, got[n].Xcos, 1e-4);
            for (int p = 0; p < 49; p++)
            {
                Assert.Equal(want.Cos[p], got[n].CosMap[p], 1e-4);
                Assert.Equal(want.Att[p], got[n].Attention[p], 1e-5);
            }
            Assert.Equal(1.0, got[n].Attention.Sum(v => (double)v), 1e-5);
        }
        // one pair at a time gives the batch's values
        var single = head.Explain(m1.AsSpan(C * 49, C * 49), m2.AsSpan(C * 49, C * 49));
        Assert.Equal(got[1].Xcos, single.Xcos, 1e-6);
        // the same map on both sides: every cell cosine is 1, so xCos is 1
        Assert.Equal(1.0, head.Explain(m1.AsSpan(0, C * 49), m1.AsSpan(0, C * 49)).Xcos, 1e-5);
    }

    // The anchored head's weights: the map head's plus a face model's embedding head (7x7 depthwise conv + BN, linear, BN1d).
    private static Dictionary<string, WeightTensor> AnchoredWeights(int seed, int dims)
    {
        var w = Weights(seed);
        var r = new Random(seed + 100);
        float U(double s) => (float)((r.NextDouble() * 2 - 1) * s);
        WeightTensor T(int n, Func<float> f, params long[] shape) => new(Enumerable.Range(0, n).Select(_ => f()).ToArray(), shape);
        void Bn(string p, int c)
        {
            w[p + ".weight"] = T(c, () => 1 + U(0.3), c);
            w[p + ".bias"] = T(c, () => U(0.2), c);
            w[p + ".running_mean"] = T(c, () => U(0.2), c);
            w[p + ".running_var"] = T(c, () => 0.5f + (float)r.NextDouble(), c);
        }
        w["anchor.conv_6_dw.conv.weight"] = T(C * 49, () => U(0.3), C, 1, 7, 7);
        Bn("anchor.conv_6_dw.bn", C);
        w["anchor.linear.weight"] = T(dims * C, () => U(1.0 / Math.Sqrt(C)), dims, C);
        Bn("anchor.bn", dims);
        return w;
    }

    // The face model's plain embedding of one map, in float64 from the checkpoint weights: depthwise 7x7 conv, BN, linear, BN1d.
    private static double[] PlainEmbedding(Dictionary<string, WeightTensor> w, ReadOnlySpan<float> map)
    {
        double Bn(string p, int i, double x) => w[p + ".weight"].Data[i] * (x - w[p + ".running_mean"].Data[i]) / Math.Sqrt(w[p + ".running_var"].Data[i] + 1e-5) + w[p + ".bias"].Data[i];
        var pooled = new double[C];
        for (int c = 0; c < C; c++)
        {
            double acc = 0;
            for (int k = 0; k < 49; k++) acc += w["anchor.conv_6_dw.conv.weight"].Data[c * 49 + k] * map[c * 49 + k];
            pooled[c] = Bn("anchor.conv_6_dw.bn", c, acc);
        }
        var lin = w["anchor.linear.weight"];
        int dims = (int)lin.Shape[0];
        var e = new double[dims];
        for (int d = 0; d < dims; d++)
        {
            double acc = 0;
            for (int c = 0; c < C; c++) acc += lin.Data[d * C + c] * pooled[c];
            e[d] = Bn("anchor.bn", d, acc);
        }
        return e;
    }

    private static double Cos(double[] a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    [Fact]
    public void A_gated_head_keeps_the_cosine_where_the_branches_agree_and_the_head_where_they_do_not()
    {
        const int D = 12, N = 4;
        var w = AnchoredWeights(8, D);
        var raw = XcosOnnxExport.BuildAnchoredMapHeadModel(w);
        using var plain = new LearnedHead(raw.ToByteArray(), "anchored");
        var m1 = RandomMaps(N, 30);
        var m2 = RandomMaps(N, 31);
        // the original embeddings: each face's plain embedding plus noise of a growing size, so the agreements spread
        var r = new Random(4);
        float[] Original(float[] maps, int n, double noise) => [.. PlainEmbedding(w, maps.AsSpan(n * C * 49, C * 49)).Select(v => (float)(v + noise * (r.NextDouble() * 2 - 1)))];
        var e1 = Enumerable.Range(0, N).SelectMany(n => Original(m1, n, 0.05)).ToArray();
        var e2 = Enumerable.Range(0, N).SelectMany(n => Original(m2, n, 0.4 * n)).ToArray();
        var agreement = Enumerable.Range(0, N).Select(n => Math.Min(
            Cos(PlainEmbedding(w, m1.AsSpan(n * C * 49, C * 49)), e1.AsSpan(n * D, D)),
            Cos(PlainEmbedding(w, m2.AsSpan(n * C * 49, C * 49)), e2.AsSpan(n * D, D)))).ToArray();
        Assert.True(agreement.Max() - agreement.Min() > 0.1, $"agreements {string.Join(", ", agreement)} should spread");
        var p = plain.Explain(m1, m2, N);
        foreach (var gate in new[]
        {
            new CosineGate(0.2, 1, agreement.Min() + 0.01, agreement.Max() - 0.01),  // the ends clamp, the middle interpolates
            new CosineGate(0.3, 0.9, -3, -2),                                      // every pair agrees: the clean share
            new CosineGate(0, 1, 1.5, 2),                                          // none does: the head alone
        })
        {
            using var gated = new LearnedHead(CosineGateOnnx.WithCosineGate(raw, gate).ToByteArray(), "gated");
            Assert.True(gated.TakesEmbeddings);
            Assert.True(gated.NeedsEmbeddings);
            Assert.False(gated.TakesCosine);
            Assert.Equal(D, gated.EmbeddingDim);
            var g = gated.Explain(m1, m2, N, e1, e2);
            for (int n = 0; n < N; n++)
            {
                double share = gate.WeightAt(agreement[n]);
                double cos = VectorMath.Cosine(e1.AsSpan(n * D, D), e2.AsSpan(n * D, D));
                Assert.Equal(share, g[n].CosineShare!.Value, 1e-4);
                Assert.Equal((1 - share) * p[n].Xcos + share * cos, g[n].Xcos, 1e-4);
                Assert.Equal(p[n].Attention, g[n].Attention);
                for (int c = 0; c < 49; c++) Assert.Equal((1 - share) * p[n].CosMap[c] + share * cos, g[n].CosMap[c], 1e-4);
                Assert.Equal(g[n].Xcos, g[n].CosMap.Zip(g[n].Attention).Sum(t => (double)t.First * t.Second), 1e-4);
            }
        }
        var first = new CosineGate(0.2, 1, agreement.Min() + 0.01, agreement.Max() - 0.01);
        var shares = new LearnedHead(CosineGateOnnx.WithCosineGate(raw, first).ToByteArray(), "gated").Explain(m1, m2, N, e1, e2).Select(x => x.CosineShare!.Value).ToArray();
        Assert.Contains(shares, s => s > 0.2 + 1e-3 && s < 1 - 1e-3);

        // a gated head needs the embeddings, of its width; a map head without anchor weights cannot be gated
        using var head = new LearnedHead(CosineGateOnnx.WithCosineGate(raw, first).ToByteArray(), "gated");
        Assert.Contains("embeddings", Assert.Throws<InvalidOperationException>(() => head.Explain(m1, m2, N)).Message);
        Assert.Contains("expected 4 embeddings of 12", Assert.Throws<ArgumentException>(() => head.Explain(m1, m2, N, e1.AsSpan(0, 3 * D), e2)).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => head.Explain(m1, m2, N, e1.Select((v, i) => i == 5 ? float.NaN : v).ToArray(), e2)).Message);
        Assert.Contains("anchored head", Assert.Throws<InvalidDataException>(() => CosineGateOnnx.WithCosineGate(XcosOnnxExport.BuildMapHeadModel(Weights(8)), first)).Message);
        Assert.Contains("already", Assert.Throws<InvalidDataException>(() => CosineGateOnnx.WithCosineGate(CosineGateOnnx.WithCosineGate(raw, first), first)).Message);
        Assert.Throws<ArgumentException>(() => CosineGateOnnx.WithCosineGate(raw, new CosineGate(0.2, 1, 0.9, 0.8)));
        // a plain head ignores embeddings; a cosine-blending head takes their cosine
        Assert.Equal(p[1].Xcos, plain.Explain(m1, m2, N, e1, e2)[1].Xcos);
        using var blended = new LearnedHead(XcosOnnxExport.WithCosineWeight(raw, 0.4).ToByteArray(), "blended");
        Assert.Equal(0.6 * p[2].Xcos + 0.4 * VectorMath.Cosine(e1.AsSpan(2 * D, D), e2.AsSpan(2 * D, D)), blended.Explain(m1, m2, N, e1, e2)[2].Xcos, 1e-4);
    }

    [DevFacesFact]
    public void The_shipped_gated_model_scores_alike_in_the_verifier_the_gallery_and_the_pipeline_and_gives_a_masked_face_the_head()
    {
        string models = RealFaces.ModelsDir()!;
        string descriptorPath = FaceModelDescriptor.ShippedPath("fr_feature_xcos");
        using var encoder = new OnnxFaceEncoder(models, descriptorPath, 1, needDetector: true, XcosVariant.Learned);
        var head = encoder.Learned!;
        Assert.True(head.TakesEmbeddings, "fr_feature_xcos ships a gated head");
        Assert.Contains("occluded=", head.Metadata[LearnedHead.CosineGateKey]);
        int map = 512 * 49;
        var pairs = DevFaces.Pairs().Take(4).ToArray();
        using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, DescriptorPath = descriptorPath, IntraOpThreads = 1, Variant = XcosVariant.Learned });
        var want = new double[pairs.Length];
        var shares = new double[pairs.Length];
        for (int i = 0; i < pairs.Length; i++)
        {
            var v = verifier.Verify(pairs[i].ImagePath1, pairs[i].ImagePath2);
            Assert.True(v.IsOk, v.FailureText);
            want[i] = v.Xcos;
            var a = encoder.EncodeFile(pairs[i].ImagePath1);
            var b = encoder.EncodeFile(pairs[i].ImagePath2);
            // the gallery's codes (map, then the original embedding) give the verifier's score without a backbone pass
            Assert.Equal(v.Xcos, encoder.CompareMany(a.Code!, [b.Code!])[0].Score, 4);
            var direct = head.Explain(a.Code.AsSpan(0, map), b.Code.AsSpan(0, map), 1, a.Code.AsSpan(map), b.Code.AsSpan(map))[0];
            shares[i] = direct.CosineShare!.Value;
            Assert.Equal(v.Xcos, direct.Xcos, 4);
        }
        // clean photos: the original cosine decides in full for most pairs
        Assert.True(shares.Max() >= 0.99, $"cosine shares of clean pairs: {string.Join(", ", shares)}");
        // the same face under a mask: the branches disagree and the head takes over
        var clean = encoder.EncodeFile(pairs[0].ImagePath1);
        var masked = encoder.Encode(FaceOccluders.Apply(clean.Face!, FaceOccluder.Mask, new Random(1)), aligned: true);
        var maskedPair = head.Explain(clean.Code.AsSpan(0, map), masked.Code.AsSpan(0, map), 1, clean.Code.AsSpan(map), masked.Code.AsSpan(map))[0];
        Assert.True(maskedPair.CosineShare < 0.5, $"cosine share {maskedPair.CosineShare} of a masked face");

        var ml = new MLContext(seed: 1);
        var scored = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
        {
            FaceModel = FaceModelDescriptor.Load(descriptorPath), FaceModelDirectory = Path.GetDirectoryName(descriptorPath), ModelsDirectory = models, Xcos = XcosVariant.Learned,
        }).Fit(ml.Data.LoadFromEnumerable(pairs)).Transform(ml.Data.LoadFromEnumerable(pairs));
        var xcos = scored.GetColumn<float>("Xcos").ToArray();
        for (int i = 0; i < pairs.Length; i++) Assert.Equal(want[i], xcos[i], 3);
    }

    [Fact]
    public void A_cosine_gate_reads_back_what_it_writes_and_refuses_bad_values()
    {
        var gate = new CosineGate(0.15, 1, 0.6924, 0.878);
        Assert.Equal("occluded=0.15;clean=1;low=0.6924;high=0.878", gate.ToString());
        Assert.Equal(gate, CosineGate.Parse(gate.ToString()));
        Assert.Equal(0.15, gate.WeightAt(0.5));
        Assert.Equal(1, gate.WeightAt(0.95));
        Assert.Equal(0.15 + 0.85 * 0.5, gate.WeightAt((0.6924 + 0.878) / 2), 1e-12);
        Assert.Contains("'high' is missing", Assert.Throws<FormatException>(() => CosineGate.Parse("occluded=0.1;clean=1;low=0.5")).Message);
        Assert.Contains("[0, 1]", Assert.Throws<FormatException>(() => CosineGate.Parse("occluded=1.5;clean=1;low=0.5;high=0.6")).Message);
        Assert.Contains("Low < High", Assert.Throws<FormatException>(() => CosineGate.Parse("occluded=0.1;clean=1;low=0.7;high=0.6")).Message);
    }

    [Fact]
    public void A_head_with_a_cosine_weight_blends_the_given_cosine_into_score_and_map_and_keeps_score_equal_to_map_times_attention()
    {
        var w = Weights(6);
        using var plain = new LearnedHead(HeadBytes(w));
        var blendModel = XcosOnnxExport.BuildMapHeadModel(w, new XcosOnnxExportOptions { CosineWeight = 0.3 });
        using var blended = new LearnedHead(blendModel.ToByteArray(), "blended");
        Assert.False(plain.TakesCosine);
        Assert.True(blended.TakesCosine);
        var m1 = RandomMaps(3, 20);
        var m2 = RandomMaps(3, 21);
        float[] cosines = [0.9f, -0.2f, 0.35f];
        var p = plain.Explain(m1, m2, 3);
        var b = blended.Explain(m1, m2, 3, cosines);
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(0.7 * p[n].Xcos + 0.3 * cosines[n], b[n].Xcos, 1e-5);
            Assert.Equal(p[n].Attention, b[n].Attention);
            for (int c = 0; c < 49; c++) Assert.Equal(0.7 * p[n].CosMap[c] + 0.3 * cosines[n], b[n].CosMap[c], 1e-5);
            Assert.Equal(b[n].Xcos, b[n].CosMap.Zip(b[n].Attention).Sum(t => (double)t.First * t.Second), 1e-5);
        }
        // a blending head without the cosines, or with too few or a NaN, is refused; a plain head ignores them
        Assert.Contains("cosine", Assert.Throws<ArgumentException>(() => blended.Explain(m1, m2, 3)).Message);
        Assert.Contains("expected 3 cosines", Assert.Throws<ArgumentException>(() => blended.Explain(m1, m2, 3, cosines.AsSpan(0, 2))).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => blended.Explain(m1, m2, 3, [0.1f, float.NaN, 0.2f])).Message);
        Assert.Equal(p[0].Xcos, plain.Explain(m1, m2, 3, cosines)[0].Xcos);
        Assert.Throws<ArgumentOutOfRangeException>(() => XcosOnnxExport.BuildMapHeadModel(w, new XcosOnnxExportOptions { CosineWeight = 1 }));
    }

    [Fact]
    public void Wrong_sizes_and_wrong_files_are_refused_with_the_reason()
    {
        using var head = new LearnedHead(HeadBytes(Weights(4)), "toy-head");
        var ex = Assert.Throws<ArgumentException>(() => head.Explain(new float[C * 49], new float[C * 49 - 1]));
        Assert.Contains("16x7x7", ex.Message);

        var missing = Path.Combine(Path.GetTempPath(), $"no_head_{Guid.NewGuid():N}.onnx");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => new LearnedHead(missing)).Message);

        // a pair-head model (grid inputs) is not a map head
        var w = Weights(4);
        var grids = XcosOnnxExport.BuildPairHeadModel(w).ToByteArray();
        Assert.Contains("map1", Assert.Throws<InvalidDataException>(() => new LearnedHead(grids, "pair-head")).Message);

        var d = new FaceModelDescriptor { Name = "other", OnnxFile = "x.onnx", Threshold = 0.3 };
        Assert.Contains("trained for face model 'toy'", Assert.Throws<InvalidDataException>(() => head.CheckFits(d, C)).Message);
        d.Name = "toy";
        head.CheckFits(d, C);
        Assert.Contains("16-channel", Assert.Throws<InvalidDataException>(() => head.CheckFits(d, 512)).Message);
    }

    [Fact]
    public void Map_head_builder_names_a_missing_grid_weight()
    {
        var w = Weights(5);
        w.Remove("backbone.conv1x1.1.running_var");
        Assert.Contains("backbone.conv1x1.1.running_var", Assert.Throws<KeyNotFoundException>(() => XcosOnnxExport.BuildMapHeadModel(w)).Message);
    }

    [RealModelsFact]
    public void Shipped_learned_head_explains_real_faces_and_the_cosine_still_decides()
    {
        var headPath = LearnedHead.NextTo(FaceModelDescriptor.ShippedPath());
        Assert.True(headPath is not null, "data/fr_feature/learned_head.onnx is not shipped next to the descriptor");
        var models = RealFaces.ModelsDir()!;
        using var weights = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, IntraOpThreads = 1, AlignedInput = true });
        using var learned = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, IntraOpThreads = 1, AlignedInput = true, Variant = XcosVariant.Learned });
        Assert.Null(weights.Learned);
        Assert.Equal(XcosVariant.Learned, learned.Variant);
        Assert.Equal("fr_feature", learned.Learned!.FaceModel);
        var face = SyntheticFace(1);
        var other = SyntheticFace(2);
        var rw = weights.VerifyAligned(face, other);
        var rl = learned.VerifyAligned(face, other);
        // Contributions (the exact decomposition of the cosine) and the deciding cosine are the same; xCos, cosine map and attention are the head's.
        Assert.Equal(rw.Contributions, rl.Contributions);
        Assert.Equal(rw.Cosine, rl.Cosine);
        Assert.Equal(rw.Decision, rl.Decision);
        var a = learned.Embedder.Embed([face, other]);
        var direct = learned.Learned.Explain(a[0].FeatureMap, a[1].FeatureMap);
        Assert.Equal(direct.Xcos, rl.Xcos, 6);
        Assert.Equal(direct.Attention, rl.Attention);
        Assert.NotEqual(rw.Attention, rl.Attention);
        Assert.Equal(1.0, rl.Attention!.Sum(v => (double)v), 1e-4);
        Assert.InRange(rl.Xcos, -1, 1);
        Assert.Equal(1.0, learned.VerifyAligned(face, face).Xcos, 1e-4);

        Assert.Throws<ArgumentException>(() => new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, Variant = XcosVariant.Checkpoint }));
        var noHead = Path.Combine(Path.GetTempPath(), $"none_{Guid.NewGuid():N}.onnx");
        Assert.Throws<FileNotFoundException>(() => new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, Variant = XcosVariant.Learned, LearnedHeadPath = noHead }));
    }

    [DevFacesFact]
    public void A_descriptor_that_decides_by_xcos_makes_the_learned_head_decide_with_its_threshold()
    {
        var models = RealFaces.ModelsDir()!;
        var dir = Directory.CreateTempSubdirectory("xcos_decides_").FullName;
        try
        {
            var shipped = Path.GetDirectoryName(FaceModelDescriptor.ShippedPath())!;
            foreach (var f in Directory.GetFiles(shipped)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            var d = FaceModelDescriptor.FrFeature();
            d.Decides = "xcos";
            d.XcosThreshold = 0.55;
            var path = Path.Combine(dir, "descriptor.json");
            d.Save(path);
            using var learned = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, DescriptorPath = path, IntraOpThreads = 1, Variant = XcosVariant.Learned });
            using var weights = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, DescriptorPath = path, IntraOpThreads = 1, AlignedInput = true });
            Assert.Equal(("xcos", 0.55), (learned.DecidedBy, learned.Threshold!.Value));
            Assert.Equal(("cosine", d.Threshold), (weights.DecidedBy, weights.Threshold!.Value));
            foreach (var (a, b, _) in OnnxVerifierFixture.DevPairs(400).Where((_, i) => i % 100 == 0))
            {
                var r = learned.Verify(a, b);
                Assert.True(r.IsOk, r.FailureText);
                Assert.Equal("xcos", r.DecidedBy);
                Assert.Equal(r.Xcos, r.DecidingScore);
                Assert.Equal(r.Xcos > 0.55, r.Same);
                Assert.Contains("\"decided_by\":\"xcos\"", r.ToJson());
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static RgbImage SyntheticFace(int id)
    {
        var f = new Data.Synthetic.SyntheticFaces(new Data.Synthetic.SyntheticFacesOptions { Identities = 4, ImagesPerIdentity = 1 }).Generate(id, 0);
        return new RgbImage(f.Size, f.Size, f.Rgb);
    }

    private sealed class PathOnly { public string Path { get; set; } = ""; }

    [RealModelsFact]
    public void Pipeline_aligning_with_the_face_detector_saves_and_reloads()
    {
        var models = RealFaces.ModelsDir()!;
        // the loaded model opens the detector from ModelStore.ResolveDirectory(): $XCOS_MODELS
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(ModelStore.EnvironmentVariable)))
            Environment.SetEnvironmentVariable(ModelStore.EnvironmentVariable, models);
        var photo = RealFaces.Photo("faceapi_sample1.jpg");
        string dir = photo is null ? Fixtures.Dir : Path.GetDirectoryName(photo)!;
        string name = photo is null ? "align_source.png" : "faceapi_sample1.jpg";

        using var detector = FaceDetector.FromDirectory(ModelStore.ResolveDirectory());
        Assert.Equal(FaceDetectorLandmarkFactory.ContractName, detector.ContractName);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new PathOnly { Path = name } });
        var model = ml.Transforms.LoadImages("Image", dir, "Path").Append(ml.Transforms.AlignFaces(detector)).Fit(data);
        var before = model.Transform(data);
        var zip = Path.Combine(Path.GetTempPath(), $"xcos_detector_align_{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, zip);
            var ml2 = new MLContext(seed: 2);
            ml2.ComponentCatalog.RegisterAssembly(typeof(FaceDetector).Assembly);
            var loaded = ml2.Model.Load(zip, out _);
            var after = loaded.Transform(ml2.Data.LoadFromEnumerable(new[] { new PathOnly { Path = name } }));
            var status = after.GetColumn<string>("AlignStatus").Single();
            Assert.Equal(before.GetColumn<string>("AlignStatus").Single(), status);
            var t1 = before.GetColumn<VBuffer<float>>("FaceTensor").Single().DenseValues().ToArray();
            var t2 = after.GetColumn<VBuffer<float>>("FaceTensor").Single().DenseValues().ToArray();
            Assert.Equal(t1, t2);
            // and it is the detector's own alignment of the image as LoadImages decodes it (its JPEG decoder is not ImageIO's)
            using var decoded = MLImage.CreateFromFile(Path.Combine(dir, name));
            var img = ImageIO.FromMLImage(decoded);
            var lm = detector.Detect(img);
            if (photo is not null) Assert.Equal("ok", status);
            if (lm is not null)
                Assert.Equal(FaceAligner.Align(img, lm).Face.Pixels, ImageIO.FromMLImage(after.GetColumn<MLImage>("AlignedFace").Single()).Pixels);
        }
        finally { File.Delete(zip); }

        // non-default thresholds cannot be rebuilt from the contract name, so that source does not claim one
        using var strict = FaceDetector.FromDirectory(models, new FaceDetectorOptions { ConfidenceThreshold = 0.9f });
        Assert.Null(strict.ContractName);
    }
}
