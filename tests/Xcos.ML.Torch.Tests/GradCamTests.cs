using TorchSharp;
using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch.Explain;
using Xcos.ML.Torch.Networks;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

public sealed class GradCamTests(TinyXcosFixture f) : IClassFixture<TinyXcosFixture>
{
    [Fact]
    public void Compute_GivesNonNegative7x7MapsPerFace_AndExplainsThePlainGridCosine()
    {
        var cams = XcosGradCam.Compute(f.Model, f.Input1, f.Input2);
        Assert.Equal(4, cams.Length);
        var flatCos = (f.Output.Flat1 * f.Output.Flat2).sum(1).data<float>().ToArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(7, cams[i].Height);
            Assert.Equal(7, cams[i].Width);
            Assert.Equal(49, cams[i].Cam1.Length);
            Assert.Equal(49, cams[i].Cam2.Length);
            Assert.All(cams[i].Cam1.Concat(cams[i].Cam2), v => Assert.True(v >= 0 && float.IsFinite(v), $"cam value {v}"));
            Assert.Equal(flatCos[i], cams[i].Score, 4);
        }
        Assert.Contains(cams, c => c.Cam1.Any(v => v > 0));
        // a different image gives a different map
        Assert.NotEqual(cams[0].Cam1, cams[2].Cam1);
    }

    [Fact]
    public void Compute_LeavesParameterGradientsAndTrainingModeAlone()
    {
        f.Model.eval();
        XcosGradCam.Compute(f.Model, f.Input1, f.Input2);
        Assert.All(f.Model.parameters(), p => Assert.True(p.grad is null, "a parameter gradient was written"));
        Assert.False(f.Model.training);
    }

    [Fact]
    public void MapScorer_ScoresLikeTheModel_ForGridAndTargetCosines()
    {
        var grid = new TorchMapScorer(f.Model, CosineSource.Grid);
        var m1 = grid.Maps(f.Input1);
        var m2 = grid.Maps(f.Input2);
        var flatCos = (f.Output.Flat1 * f.Output.Flat2).sum(1).data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(flatCos[i], grid.Score(m1[i], m2[i]), 4);

        var target = new TorchMapScorer(f.Model, CosineSource.Target);
        var t1 = target.Maps(f.Input1, CosineSource.Target);
        var t2 = target.Maps(f.Input2, CosineSource.Target);
        var (expected, _) = TinyXcosFixture.Expected("target_cos.npy");
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], target.Score(t1[i], t2[i]), 4);
    }

    [Fact]
    public void Gradient_MatchesFiniteDifferences_OnOneChannelMap()
    {
        var scorer = new TorchMapScorer(f.Model, CosineSource.Grid);
        const int pair = 2;
        var m1 = scorer.Maps(f.Input1)[pair];
        var m2 = scorer.Maps(f.Input2)[pair];
        var g = scorer.Gradient(m1, m2);
        Assert.Equal(scorer.Score(m1, m2), g.Score, 5);
        // the channel with the largest Grad-CAM weight (mean gradient)
        int k = Enumerable.Range(0, 512).MaxBy(c => Math.Abs(g.Gradient1.AsSpan(c * 49, 49).ToArray().Sum()));
        double maxAbs = g.Gradient1.AsSpan(k * 49, 49).ToArray().Max(v => Math.Abs(v));
        Assert.True(maxAbs > 1e-6, "gradient of the chosen channel is zero; the check would prove nothing");
        double scale = m1.AsSpan(k * 49, 49).ToArray().Max(v => Math.Abs(v)) + 1e-3;
        float h = (float)(1e-2 * scale);
        for (int cell = 0; cell < 49; cell++)
        {
            int at = k * 49 + cell;
            var plus = (float[])m1.Clone(); plus[at] += h;
            var minus = (float[])m1.Clone(); minus[at] -= h;
            double fd = (scorer.Score(plus, m2) - (double)scorer.Score(minus, m2)) / (2 * h);
            Assert.True(Math.Abs(fd - g.Gradient1[at]) <= 0.05 * maxAbs + 2e-5,
                $"cell {cell} of channel {k}: autograd {g.Gradient1[at]}, finite difference {fd}");
        }
        // the Grad-CAM weight itself: shifting the whole channel by h changes the score by 49 * mean(grad) * h
        var shifted = (float[])m1.Clone();
        var shiftedDown = (float[])m1.Clone();
        for (int cell = 0; cell < 49; cell++) { shifted[k * 49 + cell] += h; shiftedDown[k * 49 + cell] -= h; }
        double channelFd = (scorer.Score(shifted, m2) - (double)scorer.Score(shiftedDown, m2)) / (2 * h);
        double channelGrad = g.Gradient1.AsSpan(k * 49, 49).ToArray().Sum();
        Assert.True(Math.Abs(channelFd - channelGrad) <= 0.05 * Math.Abs(channelGrad) + 1e-4, $"channel {k}: autograd sum {channelGrad}, finite difference {channelFd}");
    }

    [Fact]
    public void SeamAndBatchedPaths_GiveTheSameCams()
    {
        var scorer = new TorchMapScorer(f.Model);
        var m1 = scorer.Maps(f.Input1);
        var m2 = scorer.Maps(f.Input2);
        var batched = XcosGradCam.Compute(f.Model, f.Input1, f.Input2);
        for (int i = 0; i < 4; i++)
        {
            var viaSeam = GradCam.Compute(scorer, m1[i], m2[i]);
            Assert.Equal(batched[i].Score, viaSeam.Score, 5);
            float tol = 1e-4f * (batched[i].Cam1.Concat(batched[i].Cam2).Max() + 1e-6f);
            for (int c = 0; c < 49; c++)
            {
                Assert.True(Math.Abs(batched[i].Cam1[c] - viaSeam.Cam1[c]) <= tol, $"pair {i} face 1 cell {c}: {batched[i].Cam1[c]} vs {viaSeam.Cam1[c]}");
                Assert.True(Math.Abs(batched[i].Cam2[c] - viaSeam.Cam2[c]) <= tol, $"pair {i} face 2 cell {c}");
            }
        }
    }

    [Fact]
    public void TargetCam_DiffersFromGridCam_AndExplainerBuildsFigures()
    {
        var grid = XcosGradCam.Compute(f.Model, f.Input1, f.Input2, CosineSource.Grid);
        var target = XcosGradCam.Compute(f.Model, f.Input1, f.Input2, CosineSource.Target);
        var (expected, _) = TinyXcosFixture.Expected("target_cos.npy");
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], target[i].Score, 4);
        Assert.NotEqual(grid[2].Cam1, target[2].Cam1);

        var face1 = FaceTensor.FromChw(f.Input1[2].contiguous().data<float>().ToArray(), 112, 112);
        var face2 = FaceTensor.FromChw(f.Input2[2].contiguous().data<float>().ToArray(), 112, 112);
        var e = XcosExplainer.Explain(f.Model, face1, face2);
        var (xcos, _) = TinyXcosFixture.Expected("xcos.npy");
        Assert.Equal(xcos[2], e.Xcos, 4);
        Assert.Equal(e.Xcos, e.Contribution.Sum(), 4);
        for (int c = 0; c < 49; c++) Assert.Equal(grid[2].Cam1[c], e.GradCam1[c], 4);
        var png = ExplanationFigure.RenderPng(e.ToFigureInput(face1, face2, 0.3, "pair 2"));
        var (_, w, _) = RgbPng.DecodeRgb(png);
        Assert.True(w > 4 * 336, "the Grad-CAM panel is missing");
        var overlay = XcosGradCam.RenderOverlayPng(face1, e.GradCam1);
        Assert.True(RgbPng.DecodeRgb(overlay).Width >= 336);
    }

    [Fact]
    public void MobileFaceNetHeads_MatchTheBackbonesOwnEmbeddings()
    {
        torch.manual_seed(1);
        using var model = new XcosModel(new XcosModelOptions { Arch = "mobilefacenet", TargetArch = "mobilefacenet" });
        model.eval();
        using var scope = NewDisposeScope();
        var x1 = torch.randn(1, 3, 112, 112);
        var x2 = torch.randn(1, 3, 112, 112);
        using (no_grad())
        {
            var o = model.Forward(x1, x2);
            var grid = new TorchMapScorer(model, CosineSource.Grid);
            var target = new TorchMapScorer(model, CosineSource.Target);
            var g1 = grid.Maps(x1); var g2 = grid.Maps(x2);
            var t1 = target.Maps(x1, CosineSource.Target); var t2 = target.Maps(x2, CosineSource.Target);
            var flat = (o.Flat1 * o.Flat2).sum(1).data<float>().ToArray();
            var tcos = o.TargetCos!.data<float>().ToArray();
            for (int i = 0; i < 1; i++)
            {
                Assert.Equal(flat[i], grid.Score(g1[i], g2[i]), 4);
                Assert.Equal(tcos[i], target.Score(t1[i], t2[i]), 4);
            }
        }
        var cams = XcosGradCam.Compute(model, x1, x2, CosineSource.Target);
        Assert.All(cams, c => Assert.Equal(49, c.Cam1.Length));
    }
}
