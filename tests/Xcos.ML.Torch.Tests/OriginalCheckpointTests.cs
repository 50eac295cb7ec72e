using TorchSharp;
using Xcos.ML.Data.Pickle;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>Checkpoints as the original xCos trainer's _save_checkpoint writes them (see <see cref="OriginalCheckpointWriter"/>).</summary>
public sealed class OriginalCheckpointTests : IClassFixture<TinyFaceSet>, IDisposable
{
    private readonly TinyFaceSet _set;
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-orig-").FullName;

    public OriginalCheckpointTests(TinyFaceSet set) => _set = set;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static XcosModel TinyModel(int seed)
    {
        torch.manual_seed(seed);
        var m = new XcosModel(new XcosModelOptions { Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 8 });
        using (no_grad())
            foreach (var (_, t) in m.state_dict())
                if (t.is_floating_point()) t.add_(rand(t.shape) * 0.1); // non-default BN statistics too
        m.eval();
        return m;
    }

    private static Dictionary<string, Tensor> WithHead(XcosModel m, Tensor kernel)
    {
        var sd = m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        sd["head.kernel"] = kernel;
        return sd;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ModelLoadsFromTheOriginalFormatAndIgnoresTheHead(bool legacy)
    {
        using var source = TinyModel(1);
        using var kernel = randn(source.Backbone.GridEmbeddingSize, 5);
        var path = Path.Combine(_dir, legacy ? "legacy.pth" : "zip.pth");
        new OriginalCheckpointWriter().Write(path, WithHead(source, kernel), epoch: 3, legacy);

        using var loaded = XcosModelLoader.Load(path);
        using var x1 = rand(2, 3, 112, 112);
        using var x2 = rand(2, 3, 112, 112);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = source.Forward(x1, x2);
        var b = loaded.Forward(x1, x2);
        Assert.True(a.Xcos.allclose(b.Xcos, 0, 0), "xCos differs after loading");
        Assert.True(a.Attention.allclose(b.Attention, 0, 0), "attention differs after loading");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EntriesOutsideTheStateDictAreInertData(bool legacy)
    {
        using var source = TinyModel(2);
        using var kernel = randn(source.Backbone.GridEmbeddingSize, 5);
        var path = Path.Combine(_dir, "entries.pth");
        new OriginalCheckpointWriter().Write(path, WithHead(source, kernel), epoch: 7, legacy);

        using var c = XcosCheckpoint.Read(path);
        Assert.Equal(7, c.Epoch);
        Assert.True(c.StateDict["head.kernel"].eq(kernel).all().item<bool>());
        Assert.Equal("xCosModel", c.Entries["arch"]);
        Assert.Equal(42L, c.Entries["train_iteration_count"]);
        var config = Assert.IsType<PickledObject>(c.Entries["config"]);
        Assert.Equal("attrdict.dictionary.AttrDict", config.Type.FullName);
        Assert.Equal("xcos_train_config", config.DictItems["name"]);
        var arch = Assert.IsType<OrderedDictionary<object, object?>>(config.DictItems["arch"]);
        Assert.Equal(10572L, ((OrderedDictionary<object, object?>)arch["args"]!)["class_num"]);
        var best = Assert.IsType<PickledObject>(c.Entries["monitor_best"]);
        Assert.Equal("numpy.core.multiarray.scalar", best.Type.FullName);
        Assert.Equal(0.9725, BitConverter.ToDouble((byte[])best.Args[1]!));
        var optimizers = Assert.IsType<OrderedDictionary<object, object?>>(c.Entries["optimizers"]);
        var attention = (OrderedDictionary<object, object?>)optimizers["attention"]!;
        var moments = (OrderedDictionary<object, object?>)((OrderedDictionary<object, object?>)attention["state"]!)[1L]!;
        Assert.Equal([3L], Assert.IsType<TorchTensorRecord>(moments["exp_avg"]).Shape);
        var group = (OrderedDictionary<object, object?>)((List<object?>)attention["param_groups"]!)[0]!;
        Assert.Equal(1e-4, group["lr"]);
        Assert.Equal(true, group["amsgrad"]);
    }

    [Fact]
    public void ForeignObjectInsideTheStateDictIsRefused()
    {
        using var source = TinyModel(3);
        var writer = new OriginalCheckpointWriter();
        writer.ExtraStateDictItems.Add(new("evil", new PyReduce(new PyGlobal("os", "system"), ["echo owned"])));
        var path = Path.Combine(_dir, "evil.pth");
        writer.Write(path, source.state_dict(), epoch: 1, legacy: false);
        var e = Assert.Throws<CheckpointException>(() => XcosCheckpoint.ReadStateDict(path));
        Assert.Contains("state_dict['evil']", e.Message);
        Assert.Contains("os.system", e.Message);
        Assert.Throws<CheckpointException>(() => XcosModelLoader.Load(path));
    }

    [Fact]
    public void TrainerResumesFromTheOriginalFormatWithItsHeadAndEpoch()
    {
        var options = new XcosTrainerOptions
        {
            Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 8, Epochs = 3, BatchSize = 3, Threads = 1, Seed = 5,
            ValidationFolds = 5, EvaluationBatchSize = 8,
        };
        var path = Path.Combine(_dir, "resume.pth");
        Dictionary<string, Tensor> expected;
        using (var donor = new XcosTrainer(options with { Seed = 99 }, _set.Train(), null, _set.NewOutputDir()))
        {
            using var _ = no_grad();
            foreach (var (_, t) in donor.Head.state_dict()) t.copy_(randn(t.shape));
            var sd = donor.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
            sd["head.kernel"] = donor.Head.Kernel;
            new OriginalCheckpointWriter().Write(path, sd, epoch: 2, legacy: true);
            expected = sd.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        }
        using var trainer = new XcosTrainer(options, _set.Train(), null, _set.NewOutputDir());
        trainer.Resume(path);
        Assert.Equal(2, trainer.State.CompletedEpochs);
        Assert.True(trainer.Head.Kernel.eq(expected["head.kernel"]).all().item<bool>(), "head.kernel was not restored");
        foreach (var (k, t) in trainer.Model.state_dict())
            Assert.True(t.eq(expected[k]).all().item<bool>(), $"{k} was not restored");
        var result = trainer.Train();
        Assert.Equal(3, result.CompletedEpochs);
        Assert.Single(result.Epochs); // only epoch 3 ran
        foreach (var t in expected.Values) t.Dispose();
    }

    [Fact]
    public void HeadOfAnotherIdentityCountIsNamedInTheError()
    {
        var options = new XcosTrainerOptions { Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 8, Epochs = 1, BatchSize = 3, Threads = 1 };
        using var trainer = new XcosTrainer(options, _set.Train(), null, _set.NewOutputDir());
        var sd = trainer.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        using var kernel = zeros(trainer.Model.Backbone.GridEmbeddingSize, 10572);
        sd["head.kernel"] = kernel;
        var path = Path.Combine(_dir, "casia.pth");
        new OriginalCheckpointWriter().Write(path, sd, epoch: 1, legacy: false);
        var e = Assert.Throws<CheckpointException>(() => trainer.Resume(path));
        Assert.Contains("head.kernel is [392,10572]", e.Message);
    }
}
