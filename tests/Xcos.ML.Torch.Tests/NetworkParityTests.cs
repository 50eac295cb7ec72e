using TorchSharp;
using Xcos.ML.Data;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>The tiny xCos fixture network (IR-SE grid backbone, plain IR target), loaded once.</summary>
public sealed class TinyXcosFixture : IDisposable
{
    public static readonly XcosModelOptions Options = new() { Arch = "ir_se", Stages = [1, 1, 1, 1], TargetArch = "ir" };

    public TinyXcosFixture()
    {
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        Model = new XcosModel(Options);
        Report = XcosCheckpoint.Load(Model, Fixtures.Path("xcos_tiny", "checkpoint.pth"));
        Model.eval();
        Input1 = Input("input1_u8.npy");
        Input2 = Input("input2_u8.npy");
        using (no_grad()) Output = Model.Forward(Input1, Input2);
    }

    public XcosModel Model { get; }
    public CheckpointLoadReport Report { get; }
    public Tensor Input1 { get; }
    public Tensor Input2 { get; }
    public XcosOutput Output { get; }

    /// <summary>The original preprocessing: (u8 / 255 - 0.5) / 0.5.</summary>
    public static Tensor Input(string file)
    {
        var a = Npy.Read(Fixtures.Path("xcos_tiny", file));
        Assert.Equal("u1", a.DType);
        var t = tensor(a.AsFloat32(), a.Shape.Select(d => (long)d).ToArray());
        return (t / 255.0f - 0.5f) / 0.5f;
    }

    public static (float[] Values, long[] Shape) Expected(string file)
    {
        var a = Npy.Read(Fixtures.Path("xcos_tiny", file));
        return (a.AsFloat32(), a.Shape.Select(d => (long)d).ToArray());
    }

    public void Dispose() => Model.Dispose();
}

public sealed class NetworkParityTests(TinyXcosFixture f) : IClassFixture<TinyXcosFixture>
{
    private const double Tol = 1e-4;

    internal static void AssertClose(string file, Tensor actual, double tol = Tol)
    {
        var (expected, shape) = TinyXcosFixture.Expected(file);
        Assert.Equal(shape, actual.shape);
        var got = actual.detach().cpu().contiguous().to(ScalarType.Float32).data<float>().ToArray();
        var worst = 0.0; var at = -1;
        for (var i = 0; i < got.Length; i++)
        {
            var d = Math.Abs(got[i] - expected[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        Assert.True(worst <= tol, $"{file}: max |diff| {worst:g4} at flat index {at} (got {got[Math.Max(at, 0)]}, expected {expected[Math.Max(at, 0)]})");
    }

    [Fact]
    public void CheckpointLoadsStrictlyWithEveryKey()
    {
        Assert.Empty(f.Report.Missing);
        Assert.Empty(f.Report.Unexpected);
        Assert.Equal(f.Model.state_dict().Count, f.Report.Matched.Count);
        Assert.Contains("backbone.body.0.res_layer.5.fc1.weight", f.Report.Matched);
        Assert.Contains("backbone_target.output_layer.3.weight", f.Report.Matched);
        Assert.Contains("attention.attention.5.weight", f.Report.Matched);
    }

    [Fact] public void Xcos() => AssertClose("xcos.npy", f.Output.Xcos);
    [Fact] public void CosMap() => AssertClose("cos_map.npy", f.Output.CosMap);
    [Fact] public void Attention() => AssertClose("attention.npy", f.Output.Attention);
    [Fact] public void Flat1() => AssertClose("flat1.npy", f.Output.Flat1);
    [Fact] public void Flat2() => AssertClose("flat2.npy", f.Output.Flat2);
    [Fact] public void Grid1() => AssertClose("grid1.npy", f.Output.Grid1);
    [Fact] public void TargetEmbedding1() => AssertClose("target_emb1.npy", f.Output.TargetEmbedding1!);
    [Fact] public void TargetCos() => AssertClose("target_cos.npy", f.Output.TargetCos!);

    [Fact]
    public void AttentionMapsSumToOne()
    {
        var sums = f.Output.Attention.flatten(1).sum(1).data<float>().ToArray();
        Assert.All(sums, s => Assert.InRange(s, 1 - 1e-5, 1 + 1e-5));
    }

    [Fact]
    public void BackboneEntryPointsAgreeWithForward()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = f.Model.Backbone.Grid(f.Input1);
        AssertClose("grid1.npy", g.Grid);
        AssertClose("flat1.npy", g.Flat);
        AssertClose("flat1.npy", f.Model.Backbone.call(f.Input1));
        Assert.Equal(new long[] { 4, 512, 7, 7 }, f.Model.Backbone.Features(f.Input1).shape);
        AssertClose("target_emb1.npy", f.Model.BackboneTarget!.Embed(f.Input1));
    }

    [Fact]
    public void CachedAttentionEmbeddingsGiveTheSameScores()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var att = f.Model.AttentionNet;
        var e1 = att.Embed(f.Output.Grid1);
        var e2 = att.Embed(f.Output.Grid2);
        var s = f.Model.Score(f.Output.Grid1, e1, f.Output.Grid2, e2);
        AssertClose("xcos.npy", s.Xcos);
        AssertClose("attention.npy", s.Attention);
        // one face against many: broadcast the cached embedding of pair 0's first face over all second faces
        var many = f.Model.Score(f.Output.Grid1[0..1].expand(4, -1, -1, -1), e1[0..1].expand(4, -1, -1, -1), f.Output.Grid2, e2);
        var direct = f.Model.Score(f.Output.Grid1[0..1].expand(4, -1, -1, -1), f.Output.Grid2);
        Assert.True(many.Xcos.allclose(direct.Xcos, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void MinShiftSumNormalisationMatchesItsDefinition()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var alt = new XcosAttention(32, normalization: AttentionNormalization.MinShiftSum);
        alt.load_state_dict(f.Model.AttentionNet.state_dict());
        alt.eval();
        var w = alt.call(f.Output.Grid1, f.Output.Grid2).flatten(1);
        // recover the logits from the softmax weights of the default branch: log w = a - logsumexp(a)
        var logits = f.Output.Attention.flatten(1).log();
        var shifted = logits - logits.min(1, keepdim: true).values;
        var expected = shifted / shifted.sum(1, keepdim: true);
        Assert.True(w.allclose(expected, rtol: 0, atol: 1e-5), "min-shift-sum weights differ from (a - min a) / sum(a - min a)");
        Assert.True(w.min().item<float>() >= 0);
    }

    [Fact]
    public void TrainModeKeepsTargetFrozenInEval()
    {
        using var m = new XcosModel(TinyXcosFixture.Options);
        m.train();
        Assert.True(m.Backbone.training);
        Assert.False(m.BackboneTarget!.training);
        Assert.All(m.BackboneTarget.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(m.Backbone.parameters(), p => Assert.True(p.requires_grad));
    }
}
