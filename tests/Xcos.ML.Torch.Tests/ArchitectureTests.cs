using TorchSharp;
using Xcos.ML.Torch.Networks;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>IR-SE-50 is large; build it once for the structural checks.</summary>
public sealed class IrSe50Fixture : IDisposable
{
    public IResNet Net { get; } = (IResNet)BackboneFactory.Create("ir_se", depth: 50);
    public void Dispose() => Net.Dispose();
}

public sealed class ArchitectureTests(IrSe50Fixture f) : IClassFixture<IrSe50Fixture>
{
    [Fact]
    public void IrSe50HasThePublishedParameterCount()
    {
        var p = Complexity.CountParameters(f.Net);
        Assert.InRange(p, 43_700_000, 43_900_000);
    }

    [Fact]
    public void IrSe50CostsAbout628GMacs()
    {
        var macs = Complexity.CountMacs(f.Net, BackboneHead.Plain);
        Assert.InRange(macs / 1e9, 6.23, 6.33);
        // the head alone is the 25088 x 512 linear layer
        Assert.Equal(25088L * 512, macs - Complexity.CountMacs(f.Net, BackboneHead.None));
    }

    [Fact]
    public void IrSe50KeysFollowTheInsightFaceLayout()
    {
        var keys = f.Net.state_dict().Keys.ToHashSet();
        Assert.Contains("input_layer.0.weight", keys);
        Assert.Contains("input_layer.2.weight", keys);
        Assert.Contains("body.3.shortcut_layer.0.weight", keys);
        Assert.DoesNotContain("body.0.shortcut_layer.0.weight", keys); // 64 -> 64: max-pool shortcut
        Assert.Contains("body.0.res_layer.5.fc1.weight", keys);
        Assert.Contains("body.23.res_layer.5.fc2.weight", keys);
        Assert.Contains("body.3.shortcut_layer.1.running_var", keys);
        Assert.Contains("output_layer.3.weight", keys);
        Assert.Contains("output_layer.4.num_batches_tracked", keys);
        Assert.DoesNotContain("body.24.res_layer.0.weight", keys);
        Assert.DoesNotContain(keys, k => k.StartsWith("conv1x1", StringComparison.Ordinal));
        Assert.Equal(24, f.Net.Units.Count());
        Assert.Equal([3, 4, 14, 3], f.Net.Stages);
        Assert.Equal(new long[] { 64, 3, 3, 3 }, f.Net.state_dict()["input_layer.0.weight"].shape);
        Assert.Equal(new long[] { 4, 64, 1, 1 }, f.Net.state_dict()["body.0.res_layer.5.fc1.weight"].shape);
    }

    [Theory]
    [InlineData(18, new[] { 2, 2, 2, 2 })]
    [InlineData(34, new[] { 3, 4, 6, 3 })]
    [InlineData(50, new[] { 3, 4, 14, 3 })]
    [InlineData(100, new[] { 3, 13, 30, 3 })]
    [InlineData(152, new[] { 3, 8, 36, 3 })]
    public void PresetsHaveTheStandardStageTables(int depth, int[] stages)
    {
        Assert.Equal(stages, BackboneFactory.StagesFor(depth));
    }

    [Fact]
    public void FactoryParsesNamesAndRejectsUnknownOnes()
    {
        Assert.Equal(("ir_se", (int?)50), BackboneFactory.Parse("ir_se50"));
        Assert.Equal(("ir", (int?)100), BackboneFactory.Parse("IR-100"));
        Assert.Equal(("mobilefacenet", (int?)null), BackboneFactory.Parse("mbf"));
        Assert.Throws<ArgumentException>(() => BackboneFactory.Parse("resnet50"));
        Assert.Throws<ArgumentException>(() => BackboneFactory.StagesFor(42));
        Assert.Throws<ArgumentException>(() => BackboneFactory.Create("ir_se50", depth: 100));
        Assert.Throws<ArgumentException>(() => new IResNet([1, 1, 1], se: false));
    }

    [Fact]
    public void TinyGridBackboneShapes()
    {
        using var scope = NewDisposeScope();
        using var net = BackboneFactory.Create("ir", stages: [1, 1, 1, 1], grid: true);
        net.eval();
        using var _ = no_grad();
        var x = randn(2, 3, 112, 112);
        var g = net.Grid(x);
        Assert.Equal(new long[] { 2, 32, 7, 7 }, g.Grid.shape);
        Assert.Equal(new long[] { 2, 1568 }, g.Flat.shape);
        Assert.True(g.Flat.norm(1).allclose(ones(2), rtol: 0, atol: 1e-5));
        Assert.Equal(1568, net.GridEmbeddingSize);
        Assert.Contains("conv1x1.0.bias", net.state_dict().Keys);
        Assert.Contains("output_layer.3.weight", net.state_dict().Keys);
        var e = net.Embed(x);
        Assert.Equal(new long[] { 2, 512 }, e.shape);
        Assert.Equal(32L * 512 * 49, Complexity.CountMacs(net, BackboneHead.Grid) - Complexity.CountMacs(net, BackboneHead.None));
    }

    [Fact]
    public void PlainBackboneRefusesGrid()
    {
        using var net = BackboneFactory.Create("ir", stages: [1, 1, 1, 1]);
        Assert.Throws<InvalidOperationException>(() => net.Grid(zeros(1, 3, 112, 112)));
    }

    [Fact]
    public void MobileFaceNetLayoutAndShapes()
    {
        using var scope = NewDisposeScope();
        using var net = (MobileFaceNet)BackboneFactory.Create("mobilefacenet", grid: true);
        net.eval();
        var keys = net.state_dict().Keys.ToHashSet();
        Assert.Contains("conv1.conv.weight", keys);
        Assert.Contains("conv2_dw.prelu.weight", keys);
        Assert.Contains("conv_23.conv_dw.conv.weight", keys);
        Assert.Contains("conv_3.model.3.project.bn.running_mean", keys);
        Assert.Contains("conv_4.model.5.conv.conv.weight", keys);
        Assert.Contains("conv_5.model.1.conv_dw.conv.weight", keys);
        Assert.Contains("conv_6_dw.conv.weight", keys);
        Assert.Contains("linear.weight", keys);
        Assert.Contains("bn.running_var", keys);
        Assert.Contains("conv1x1.0.weight", keys);
        Assert.DoesNotContain("conv_6_dw.prelu.weight", keys);
        Assert.DoesNotContain("linear.bias", keys);
        using var _ = no_grad();
        var x = randn(2, 3, 112, 112);
        Assert.Equal(new long[] { 2, 512, 7, 7 }, net.Features(x).shape);
        Assert.Equal(new long[] { 2, 512 }, net.Embed(x).shape);
        Assert.Equal(new long[] { 2, 32, 7, 7 }, net.Grid(x).Grid.shape);
        // InsightFace MobileFaceNet: about 1.0-1.2M parameters and 0.22 GMACs (counted by hand from its layer table)
        using var plain = BackboneFactory.Create("mobilefacenet");
        Assert.InRange(Complexity.CountParameters(plain), 0.9e6, 1.3e6);
        Assert.InRange(Complexity.CountMacs(plain) / 1e9, 0.215, 0.227);
    }

    [Fact]
    public void XcosModelWithMobileFaceNetRuns()
    {
        using var scope = NewDisposeScope();
        using var m = new XcosModel(new XcosModelOptions { Arch = "mobilefacenet", TargetArch = "mobilefacenet" });
        m.eval();
        using var _ = no_grad();
        var o = m.Forward(randn(2, 3, 112, 112), randn(2, 3, 112, 112));
        Assert.Equal(new long[] { 2 }, o.Xcos.shape);
        Assert.Equal(new long[] { 2, 7, 7 }, o.CosMap.shape);
        Assert.Equal(new long[] { 2 }, o.TargetCos!.shape);
        Assert.Contains("backbone_target.linear.weight", m.state_dict().Keys);
    }

    [Fact]
    public void XcosModelWithoutTargetHasNoTargetOutputs()
    {
        using var scope = NewDisposeScope();
        using var m = new XcosModel(new XcosModelOptions { Arch = "ir", Stages = [1, 1, 1, 1] });
        m.eval();
        using var _ = no_grad();
        var o = m.Forward(randn(1, 3, 112, 112), randn(1, 3, 112, 112));
        Assert.Null(o.TargetCos);
        Assert.Null(m.BackboneTarget);
        Assert.DoesNotContain(m.state_dict().Keys, k => k.StartsWith("backbone_target.", StringComparison.Ordinal));
    }
}
