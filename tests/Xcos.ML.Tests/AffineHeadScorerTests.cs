using Xcos.ML.Explain;
using Xcos.ML.Heads;
using Xcos.ML.Numerics;
using Xcos.ML.Onnx;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

public class AffineHeadScorerTests
{
    private const int C = 4, H = 3, W = 3, D = 5;

    private static float[] Rand(Random r, int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();

    // the affine heads of the weight-derived tests: "dw" is fr_feature's form, "fc" a dense reduction
    private static (OnnxModelFile Model, string Map) Build(string kind) => WeightDerivedXcosTests.Build(kind, seed: 3);

    private static float[] PositiveMap(Random r) => Rand(r, C * H * W).Select(v => 0.2f + Math.Abs(v)).ToArray();

    private static double ModelCosine(OnnxModelFile m, float[] x1, float[] x2)
    {
        float[] Emb(float[] x) => OnnxGraphTests.Run(m.ToBytes(), new Dictionary<string, (float[], long[])> { ["x"] = (x, [1, C, H, W]) }, "emb")["emb"].Data;
        return VectorMath.Cosine(Emb(x1), Emb(x2));
    }

    [Theory]
    [InlineData("dw")]
    [InlineData("fc")]
    public void Score_is_the_onnx_models_embedding_cosine(string kind)
    {
        var (model, map) = Build(kind);
        var scorer = new AffineHeadScorer(WeightDerivedHead.Extract(model, map, "emb"));
        Assert.Equal((C, H, W), (scorer.Channels, scorer.Height, scorer.Width));
        var r = new Random(11);
        for (int t = 0; t < 3; t++)
        {
            var m1 = PositiveMap(r);  // positive, so the Relu map equals the input
            var m2 = PositiveMap(r);
            Assert.Equal(ModelCosine(model, m1, m2), scorer.Score(m1, m2), 1e-5);
        }
    }

    [Theory]
    [InlineData("dw")]
    [InlineData("fc")]
    public void Gradient_matches_central_finite_differences_for_both_maps(string kind)
    {
        var (model, map) = Build(kind);
        var scorer = new AffineHeadScorer(WeightDerivedHead.Extract(model, map, "emb"));
        var r = new Random(5);
        var m1 = PositiveMap(r);
        var m2 = PositiveMap(r);
        var g = scorer.Gradient(m1, m2);
        Assert.Equal(scorer.Score(m1, m2), g.Score, 6);
        const float h = 1e-2f;
        double maxErr = 0, maxAbs = 0;
        foreach (var (which, grad) in new[] { (1, g.Gradient1), (2, g.Gradient2) })
        {
            Assert.Equal(C * H * W, grad.Length);
            for (int i = 0; i < grad.Length; i++)
            {
                var a = (float[])(which == 1 ? m1 : m2).Clone();
                var b = (float[])a.Clone();
                a[i] += h;
                b[i] -= h;
                double fd = which == 1 ? (scorer.Score(a, m2) - scorer.Score(b, m2)) / (2 * h) : (scorer.Score(m1, a) - scorer.Score(m1, b)) / (2 * h);
                maxErr = Math.Max(maxErr, Math.Abs(fd - grad[i]));
                maxAbs = Math.Max(maxAbs, Math.Abs(grad[i]));
            }
        }
        Assert.True(maxAbs > 1e-2, $"gradient is nearly zero everywhere (max {maxAbs}); the check would be empty");
        Assert.True(maxErr < 2e-3 * Math.Max(1, maxAbs), $"analytic and finite-difference gradients differ by {maxErr} (largest entry {maxAbs})");
    }

    [Fact]
    public void Map_gradient_of_a_fixed_vector_is_the_exact_adjoint_of_the_affine_head()
    {
        var (model, map) = Build("dw");
        var head = WeightDerivedHead.Extract(model, map, "emb");
        var scorer = new AffineHeadScorer(head);
        var r = new Random(9);
        var v = Rand(r, D);
        var g = PositiveMap(r);
        var gv = scorer.MapGradientOf(v);
        var e = scorer.Embedding(g);
        // v.(e - b) = <g, M^T v> because e - b is linear in g.
        double lhs = 0, rhs = 0;
        for (int o = 0; o < D; o++) lhs += (double)v[o] * (e[o] - head.Bias[o]);
        for (int i = 0; i < g.Length; i++) rhs += (double)g[i] * gv[i];
        Assert.Equal(lhs, rhs, 4);
    }

    [Fact]
    public void Grad_cam_of_the_affine_head_weights_each_channel_by_its_mean_gradient()
    {
        var (model, map) = Build("dw");
        var scorer = new AffineHeadScorer(WeightDerivedHead.Extract(model, map, "emb"));
        var r = new Random(2);
        var m1 = PositiveMap(r);
        var m2 = PositiveMap(r);
        var cam = GradCam.Compute(scorer, m1, m2);
        var g = scorer.Gradient(m1, m2);
        foreach (var (m, grad, result) in new[] { (m1, g.Gradient1, cam.Cam1), (m2, g.Gradient2, cam.Cam2) })
        {
            Assert.Equal(H * W, result.Length);
            for (int cell = 0; cell < H * W; cell++)
            {
                double s = 0;
                for (int ch = 0; ch < C; ch++)
                {
                    double w = 0;
                    for (int k = 0; k < H * W; k++) w += grad[ch * H * W + k];
                    s += w / (H * W) * m[ch * H * W + cell];
                }
                Assert.Equal(Math.Max(0, s), result[cell], 1e-5);
            }
        }
        Assert.Contains(cam.Cam1.Concat(cam.Cam2), v => v > 0);
    }

    [Fact]
    public void Wrong_sizes_are_refused_with_the_expected_sizes()
    {
        var (model, map) = Build("fc");
        var scorer = new AffineHeadScorer(WeightDerivedHead.Extract(model, map, "emb"));
        var ok = new float[C * H * W];
        var ex = Assert.Throws<ArgumentException>(() => scorer.Score(new float[5], ok));
        Assert.Contains($"{C}x{H}x{W}", ex.Message);
        Assert.Contains($"{D}", Assert.Throws<ArgumentException>(() => scorer.MapGradientOf(new float[D + 1])).Message);
        Assert.Throws<ArgumentNullException>(() => new AffineHeadScorer(null!));
    }
}
