using TorchSharp;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("xcos-ckpt-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static IResNet Tiny(bool se = true, bool grid = true) => new([1, 1, 1, 1], se, grid);

    private static void Randomize(nn.Module m, int seed)
    {
        using var _ = no_grad();
        var g = new Generator((ulong)seed);
        foreach (var (_, t) in m.state_dict())
            if (t.is_floating_point()) t.copy_(rand(t.shape, generator: g));
            else t.fill_(seed);
    }

    private static void AssertSameState(nn.Module a, nn.Module b)
    {
        var sa = a.state_dict();
        var sb = b.state_dict();
        Assert.Equal(sa.Keys.OrderBy(k => k), sb.Keys.OrderBy(k => k));
        foreach (var (k, t) in sa)
            Assert.True(t.eq(sb[k]).all().item<bool>(), $"tensor {k} differs");
    }

    [Theory]
    [InlineData(CheckpointContainer.StateDictEntry)]
    [InlineData(CheckpointContainer.Bare)]
    public void SaveThenLoadGivesIdenticalTensors(CheckpointContainer container)
    {
        using var a = Tiny();
        using var b = Tiny();
        Randomize(a, 1);
        Randomize(b, 2);
        var path = Path.Combine(dir, "tiny.pth");
        XcosCheckpoint.Save(a, path, container);
        var report = XcosCheckpoint.Load(b, path);
        AssertSameState(a, b);
        Assert.Equal(a.state_dict().Count, report.Matched.Count);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(dir, ".*", SearchOption.AllDirectories));
    }

    [Fact]
    public void SaveOverwritesAnExistingFile()
    {
        using var a = Tiny();
        using var b = Tiny();
        Randomize(a, 3);
        var path = Path.Combine(dir, "over.pth");
        File.WriteAllText(path, "old contents");
        XcosCheckpoint.Save(a, path);
        XcosCheckpoint.Load(b, path);
        AssertSameState(a, b);
    }

    [Fact]
    public void DataParallelModulePrefixIsStripped()
    {
        using var a = Tiny();
        using var b = Tiny();
        Randomize(a, 4);
        var prefixed = a.state_dict().ToDictionary(kv => "module." + kv.Key, kv => kv.Value);
        var path = Path.Combine(dir, "dp.pth");
        XcosCheckpoint.SaveStateDict(prefixed, path);
        var sd = XcosCheckpoint.ReadStateDict(path);
        Assert.All(sd.Keys, k => Assert.False(k.StartsWith("module.", StringComparison.Ordinal)));
        foreach (var t in sd.Values) t.Dispose();
        XcosCheckpoint.Load(b, path);
        AssertSameState(a, b);
    }

    [Fact]
    public void MissingAndUnexpectedKeysAreNamed()
    {
        using var grid = Tiny(grid: true);
        using var plain = Tiny(grid: false);
        var path = Path.Combine(dir, "plain.pth");
        XcosCheckpoint.Save(plain, path);
        var e = Assert.Throws<CheckpointException>(() => XcosCheckpoint.Load(grid, path));
        Assert.Contains("conv1x1.0.weight", e.Message);
        Assert.Contains("conv1x1.0.weight", e.Missing);
        Assert.Contains(path, e.Message);

        var path2 = Path.Combine(dir, "grid.pth");
        XcosCheckpoint.Save(grid, path2);
        var e2 = Assert.Throws<CheckpointException>(() => XcosCheckpoint.Load(plain, path2));
        Assert.Contains("conv1x1.2.weight", e2.Message);
        Assert.Contains("conv1x1.2.weight", e2.Unexpected);

        // relaxed: loads what fits and reports the rest
        var report = XcosCheckpoint.Load(plain, path2, new CheckpointLoadOptions { Strict = false });
        Assert.Contains("conv1x1.1.running_mean", report.Unexpected);
        Assert.Empty(report.Missing);
    }

    [Fact]
    public void MisShapedKeysAlwaysFail()
    {
        using var ir = Tiny(se: false, grid: false);
        using var wide = new IResNet([1, 1, 1, 1], se: false, grid: true, gridChannels: 16);
        var path = Path.Combine(dir, "wide.pth");
        XcosCheckpoint.Save(wide, path);
        using var narrow = new IResNet([1, 1, 1, 1], se: false, grid: true, gridChannels: 32);
        var e = Assert.Throws<CheckpointException>(() => XcosCheckpoint.Load(narrow, path, new CheckpointLoadOptions { Strict = false }));
        Assert.Contains("conv1x1.0.weight", e.Message);
        Assert.Contains("[16,512,1,1]", e.Message);
    }

    [Fact]
    public void GarbageAndTruncatedFilesGiveAClearError()
    {
        using var m = Tiny();
        var garbage = Path.Combine(dir, "garbage.pth");
        File.WriteAllBytes(garbage, System.Text.Encoding.ASCII.GetBytes("this is not a checkpoint at all"));
        var e = Assert.Throws<CheckpointException>(() => XcosCheckpoint.Load(m, garbage));
        Assert.Contains(garbage, e.Message);
        Assert.Contains("not a PyTorch checkpoint", e.Message);

        var good = Path.Combine(dir, "good.pth");
        XcosCheckpoint.Save(m, good);
        var bytes = File.ReadAllBytes(good);
        var truncated = Path.Combine(dir, "truncated.pth");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e2 = Assert.Throws<CheckpointException>(() => XcosCheckpoint.Load(m, truncated));
        Assert.Contains(truncated, e2.Message);

        var missing = Path.Combine(dir, "nope.pth");
        var e3 = Assert.Throws<CheckpointException>(() => XcosCheckpoint.Load(m, missing));
        Assert.Contains(missing, e3.Message);
    }

    [Fact]
    public void TargetBackboneLoadsStandaloneThroughASourcePrefix()
    {
        using var target = new IResNet([1, 1, 1, 1], se: false);
        var report = XcosCheckpoint.Load(target, Fixtures.Path("xcos_tiny", "checkpoint.pth"),
            new CheckpointLoadOptions { SourcePrefix = "backbone_target." });
        Assert.Equal(target.state_dict().Count, report.Matched.Count);
        target.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        NetworkParityTests.AssertClose("target_emb1.npy", target.Embed(TinyXcosFixture.Input("input1_u8.npy")));
    }

    [Fact]
    public void BareBackboneFileLoadsIntoTheTargetSubmodule()
    {
        // an InsightFace_Pytorch-style backbone file: keys without "backbone."
        using var source = new IResNet([1, 1, 1, 1], se: false);
        Randomize(source, 5);
        var path = Path.Combine(dir, "model_ir_tiny.pth");
        XcosCheckpoint.Save(source, path, CheckpointContainer.Bare);
        using var model = new XcosModel(TinyXcosFixture.Options);
        XcosCheckpoint.Load(model.BackboneTarget!, path);
        AssertSameState(source, model.BackboneTarget!);
    }

    [Fact]
    public void LegacyFormatIsRead()
    {
        // torch.save(OrderedDict(w=arange(6).view(2,3).float(), n=tensor(7), h=arange(4).double()[1:]),
        //            _use_new_zipfile_serialization=False) from PyTorch 1.13
        var path = Path.Combine(dir, "legacy.pth");
        File.WriteAllBytes(path, Convert.FromBase64String(LegacySample));
        var sd = XcosCheckpoint.ReadStateDict(path);
        try
        {
            Assert.Equal(new[] { 0f, 1, 2, 3, 4, 5 }, sd["w"].data<float>().ToArray());
            Assert.Equal(new long[] { 2, 3 }, sd["w"].shape);
            Assert.Equal(7L, sd["n"].item<long>());
            Assert.Equal(new[] { 1.0, 2, 3 }, sd["h"].data<double>().ToArray());
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    private const string LegacySample = "gAKKCmz8nEb5IGqoUBkugAJN6QMugAJ9cQAoWBAAAABwcm90b2NvbF92ZXJzaW9ucQFN6QNYDQAAAGxpdHRsZV9lbmRpYW5xAohYCgAAAHR5cGVfc2l6ZXNxA31xBChYBQAAAHNob3J0cQVLAlgDAAAAaW50cQZLBFgEAAAAbG9uZ3EHSwR1dS6AAmNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxAClScQEoWAEAAAB3cQJjdG9yY2guX3V0aWxzCl9yZWJ1aWxkX3RlbnNvcl92MgpxAygoWAcAAABzdG9yYWdlcQRjdG9yY2gKRmxvYXRTdG9yYWdlCnEFWAkAAAAzMDI4NTcyNDhxBlgDAAAAY3B1cQdLBk50cQhRSwBLAksDhnEJSwNLAYZxColoAClScQt0cQxScQ1YAQAAAG5xDmgDKChoBGN0b3JjaApMb25nU3RvcmFnZQpxD1gJAAAAMzAyODQ4MTc2cRBoB0sBTnRxEVFLACkpiWgAKVJxEnRxE1JxFFgBAAAAaHEVaAMoKGgEY3RvcmNoCkRvdWJsZVN0b3JhZ2UKcRZYCQAAADMwMzMyNTQyNHEXaAdLBE50cRhRSwFLA4VxGUsBhXEaiWgAKVJxG3RxHFJxHXUugAJdcQAoWAkAAAAzMDI4NDgxNzZxAVgJAAAAMzAyODU3MjQ4cQJYCQAAADMwMzMyNTQyNHEDZS4BAAAAAAAAAAcAAAAAAAAABgAAAAAAAAAAAAAAAACAPwAAAEAAAEBAAACAQAAAoEAEAAAAAAAAAAAAAAAAAAAAAAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhA";
}
