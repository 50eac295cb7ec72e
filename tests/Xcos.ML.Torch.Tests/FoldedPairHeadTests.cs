using TorchSharp;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

public class FoldedPairHeadTests
{
    [Fact]
    public void FoldedHeadEqualsModelHeadOnFixtureWeights()
    {
        using var model = XcosModelLoader.Load(Fixtures.Path("xcos_tiny", "checkpoint.pth"));
        Assert.Equal("ir_se", model.Options.Arch);
        Assert.Equal(new[] { 1, 1, 1, 1 }, model.Options.Stages);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(3);
        var g1 = randn(64, 32, 7, 7);
        var g2 = randn(64, 32, 7, 7);
        var reference = model.Score(g1, g2);
        using var head = new FoldedPairHead(model.AttentionNet);
        using var c1 = head.Encode(g1);
        using var c2 = head.Encode(g2);
        var folded = head.Score(c1, c2);
        Assert.True(folded.Xcos.allclose(reference.Xcos, rtol: 0, atol: 1e-5), "xcos differs");
        Assert.True(folded.CosMap.allclose(reference.CosMap, rtol: 0, atol: 1e-5), "cos map differs");
        Assert.True(folded.Attention.allclose(reference.Attention, rtol: 0, atol: 1e-6), "attention differs");

        // the unique-pair path (one attention convolution over concat(e1, e2)) gives the same numbers
        var unique = head.Score(g1, g2);
        Assert.True(unique.Xcos.allclose(reference.Xcos, rtol: 0, atol: 1e-5), "unique-pair xcos differs");
        Assert.True(unique.Attention.allclose(reference.Attention, rtol: 0, atol: 1e-6), "unique-pair attention differs");
        Assert.Throws<ArgumentException>(() => head.Score(g1, g2.narrow(0, 0, 8)));

        // a face's code is reusable against any other face: pairing row i with row (i+1)
        var shifted = arange(64, dtype: int64).add(1).remainder(64);
        using var c2s = c2.Select(shifted);
        var reuse = head.Score(c1, c2s);
        var direct = model.Score(g1, g2.index_select(0, shifted));
        Assert.True(reuse.Xcos.allclose(direct.Xcos, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void LoaderInfersArchitectureAndHonoursOverrides()
    {
        var path = Fixtures.Path("xcos_tiny", "checkpoint.pth");
        using var m = XcosModelLoader.Load(path);
        Assert.NotNull(m.BackboneTarget);
        using var noTarget = XcosModelLoader.Load(path, new XcosModelLoader.Overrides { TargetArch = "none" });
        Assert.Null(noTarget.BackboneTarget);
        var e = Assert.Throws<CheckpointException>(() => XcosModelLoader.Load(path, new XcosModelLoader.Overrides { Stages = [2, 2, 2, 2] }));
        Assert.Contains("backbone.body.", e.Message);
    }
}

public class XcosModelLoaderTests
{
    [Fact]
    public void MobileFaceNetBackboneAndTargetAreReadFromTheKeys()
    {
        var path = Path.Combine(Path.GetTempPath(), $"xcos_mbf_{Guid.NewGuid():N}.pth");
        try
        {
            using (var model = new XcosModel(new XcosModelOptions { Arch = "mobilefacenet", TargetArch = "mobilefacenet" }))
                XcosCheckpoint.Save(model, path);
            using var loaded = XcosModelLoader.Load(path);
            Assert.Equal("mobilefacenet", loaded.Options.Arch);
            Assert.Equal("mobilefacenet", loaded.Options.TargetArch);
            Assert.NotNull(loaded.BackboneTarget);
        }
        finally { File.Delete(path); }
    }
}
