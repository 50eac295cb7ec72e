using TorchSharp;
using Xcos.ML.Data;
using Xcos.ML.Torch.Networks;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

public sealed class MarginHeadTests
{
    private static Tensor Load(string file)
    {
        var a = Npy.Read(Fixtures.Path(file));
        var shape = a.Shape.Select(d => (long)d).ToArray();
        return a.DType == "i8" ? tensor(a.AsInt64(), shape) : tensor(a.AsFloat32(), shape);
    }

    private static void SetKernel(MarginHead head)
    {
        using var _ = no_grad();
        using var k = Load("margin_kernel.npy");
        head.Kernel.copy_(k);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tol)
    {
        Assert.Equal(expected.shape, actual.shape);
        var worst = (expected - actual).abs().max().item<float>();
        Assert.True(worst <= tol, $"max |diff| {worst:g4} > {tol}");
    }

    [Fact]
    public void ArcFaceLogitsMatchIncludingTheFallbackBranch()
    {
        using var scope = NewDisposeScope();
        using var head = new ArcFaceHead(16, 10);
        Assert.Equal(new long[] { 16, 10 }, head.Kernel.shape);
        Assert.Equal(64.0, head.Scale);
        Assert.Equal(0.5, head.Margin);
        SetKernel(head);
        var emb = Load("margin_embeddings.npy");
        var labels = Load("margin_labels.npy");
        var logits = head.call(emb, labels);
        AssertClose(Load("arcface_logits_s64_m0.5.npy"), logits, 1e-4);
        // row 4 takes theta + m > pi: its true-class logit is s * (cos - sin(m) * m)
        var cos = head.Cosine(emb);
        var c = cos[4, 2].item<float>();
        Assert.True(Math.Acos(c) + 0.5 > Math.PI);
        Assert.Equal(64 * (c - Math.Sin(0.5) * 0.5), logits[4, 2].item<float>(), 3);
    }

    [Fact]
    public void ArcFaceCrossEntropyMatches()
    {
        using var scope = NewDisposeScope();
        using var head = new ArcFaceHead(16, 10, 64, 0.5);
        SetKernel(head);
        var loss = nn.functional.cross_entropy(head.call(Load("margin_embeddings.npy"), Load("margin_labels.npy")), Load("margin_labels.npy"));
        var expected = Npy.Read(Fixtures.Path("arcface_ce_loss.npy")).AsFloat32()[0];
        Assert.True(Math.Abs(loss.item<float>() - expected) <= 1e-4, $"loss {loss.item<float>()} vs {expected}");
    }

    [Fact]
    public void CosFaceLogitsMatch()
    {
        using var scope = NewDisposeScope();
        using var head = new CosFaceHead(16, 10);
        Assert.Equal(30.0, head.Scale);
        Assert.Equal(0.35, head.Margin);
        SetKernel(head);
        var logits = head.call(Load("margin_embeddings.npy"), Load("margin_labels.npy"));
        AssertClose(Load("cosface_logits_s30_m0.35.npy"), logits, 1e-4);
    }

    [Fact]
    public void KernelIsAStateDictParameterWithUnitColumnsAtInit()
    {
        using var scope = NewDisposeScope();
        using var head = new ArcFaceHead(8, 5);
        Assert.Equal(["kernel"], head.state_dict().Keys);
        var norms = head.Kernel.norm(0, false, 2);
        Assert.True(norms.allclose(ones(5), rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void ArcFaceGradientIsFiniteAwayFromTheTrueClass()
    {
        using var scope = NewDisposeScope();
        using var head = new ArcFaceHead(4, 3);
        using (no_grad())
            head.Kernel.copy_(tensor(new float[] { 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0 }).reshape(4, 3));
        // embedding equal to class 1's column: cos = 1 exactly at a non-true class
        var emb = tensor(new float[] { 0, 1, 0, 0 }).reshape(1, 4);
        var loss = nn.functional.cross_entropy(head.call(emb, tensor(new long[] { 0 })), tensor(new long[] { 0 }));
        loss.backward();
        Assert.False(head.Kernel.grad!.isnan().any().item<bool>());
    }
}
