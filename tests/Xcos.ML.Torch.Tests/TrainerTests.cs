using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Training;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

[CollectionDefinition("Training", DisableParallelization = true)]
public sealed class TrainingCollection { }

[Collection("Training")]
public sealed class TrainerTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public TrainerTests(TinyFaceSet set) => _set = set;

    // 6 training images, batch 3: two steps per epoch
    private static XcosTrainerOptions Tiny(int epochs = 2) => TinyTrainer.Options(epochs) with
    {
        Backbone = new() { LearningRate = 0.02 },
        Head = new() { LearningRate = 0.02, WeightDecay = 4e-4 },
    };

    private static Dictionary<string, Tensor> Snapshot(nn.Module m) =>
        m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    private static void AssertSameWeights(IReadOnlyDictionary<string, Tensor> expected, nn.Module actual, bool parametersOnly = false)
    {
        var a = actual.state_dict();
        if (parametersOnly)
        {
            var names = actual.named_parameters().Select(p => p.name).ToHashSet();
            expected = expected.Where(kv => names.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
            a = new Dictionary<string, Tensor>(a.Where(kv => names.Contains(kv.Key)));
        }
        Assert.Equal(expected.Keys.Order(), a.Keys.Order());
        foreach (var (k, t) in expected)
            Assert.True(t.eq(a[k]).all().item<bool>(), $"{k} differs (max |d| = {(t.to(ScalarType.Float64) - a[k].to(ScalarType.Float64)).abs().max().item<double>()})");
    }

    [Fact]
    public void LossDecreasesOnAFixedBatch()
    {
        using var t = new XcosTrainer(Tiny(), _set.Train(), null, _set.NewOutputDir());
        var batch = t.Source.Epoch(0).Read().First();
        var losses = Enumerable.Range(0, 6).Select(_ => t.TrainStep(batch).Loss).ToArray();
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses[^1] < losses[0], "losses: " + string.Join(", ", losses));
    }

    [Fact]
    public void ResumeAfterAnEpochOrMidEpochGivesIdenticalWeights()
    {
        var folder = _set.Train();
        var pairs = new[] { _set.Pairs() };
        // initial weights are copied from run A, so other tests drawing from libtorch's global generator cannot interfere
        Dictionary<string, Tensor> initModel, initHead, finalModel, finalHead;
        string outA = _set.NewOutputDir();
        using (var a = new XcosTrainer(Tiny(), folder, pairs, outA))
        {
            initModel = Snapshot(a.Model); initHead = Snapshot(a.Head);
            var r = a.Train();
            Assert.False(r.Cancelled);
            Assert.Equal(2, r.CompletedEpochs);
            Assert.Equal(4, r.GlobalStep);
            finalModel = Snapshot(a.Model); finalHead = Snapshot(a.Head);
            // validation ran each epoch with both scores, and the log has one row per epoch
            Assert.All(r.Epochs, e => Assert.Equal(10, e.Validation[0].Pairs));
            Assert.All(r.Epochs, e => Assert.InRange(e.Validation[0].Xcos.AccuracyMean, 0, 1));
            var log = File.ReadAllLines(Path.Combine(outA, TrainingFiles.Log));
            Assert.Equal(3, log.Length);
            Assert.StartsWith("epoch,step,loss,ce_loss,xcos_loss,lr_backbone,lr_head,lr_attention", log[0]);
            Assert.Contains("val_pairs_xcos_acc", log[0]);
            Assert.True(File.Exists(Path.Combine(outA, TrainingFiles.BestCheckpoint)));
            Assert.Empty(Directory.GetFiles(outA, "*.tmp"));
        }

        // B: one epoch, then a new process-like trainer resumes for the second
        string outB = _set.NewOutputDir();
        using (var b1 = new XcosTrainer(Tiny(epochs: 1), folder, pairs, outB))
        {
            XcosCheckpoint.Load(b1.Model, initModel); XcosCheckpoint.Load(b1.Head, initHead);
            Assert.Equal(1, b1.Train().CompletedEpochs);
        }
        using (var b2 = new XcosTrainer(Tiny(), folder, pairs, outB))
        {
            b2.Resume(Path.Combine(outB, TrainingFiles.LastCheckpoint));
            Assert.Equal(1, b2.State.CompletedEpochs);
            b2.Train();
            AssertSameWeights(finalModel, b2.Model);
            AssertSameWeights(finalHead, b2.Head);
        }

        // C: cancelled after the first step of epoch 2, then resumed mid-epoch
        string outC = _set.NewOutputDir();
        using (var c1 = new XcosTrainer(Tiny(), folder, pairs, outC))
        {
            XcosCheckpoint.Load(c1.Model, initModel); XcosCheckpoint.Load(c1.Head, initHead);
            using var cts = new CancellationTokenSource();
            var r = c1.Train(new SyncProgress(p => { if (p.Phase == TrainPhase.Training && p.GlobalStep == 3) cts.Cancel(); }), cts.Token);
            Assert.True(r.Cancelled);
            Assert.Equal(1, r.CompletedEpochs);
            Assert.Equal(3, r.GlobalStep);
            Assert.Equal(1, TrainingCheckpoint.ReadState(r.LastCheckpoint).StepInEpoch);
        }
        using (var c2 = new XcosTrainer(Tiny(), folder, pairs, outC))
        {
            c2.Resume(Path.Combine(outC, TrainingFiles.LastCheckpoint));
            var r = c2.Train();
            Assert.Equal(4, r.GlobalStep);
            AssertSameWeights(finalModel, c2.Model);
            AssertSameWeights(finalHead, c2.Head);
        }
    }

    [Fact]
    public void NonFiniteLossStopsWithClearErrorAndKeepsLastGoodCheckpoint()
    {
        string dir = _set.NewOutputDir();
        var options = Tiny() with { LossHook = (step, loss) => step == 2 ? loss * double.NaN : loss };
        using var t = new XcosTrainer(options, _set.Train(), null, dir);
        var e = Assert.Throws<TrainingDivergedException>(() => t.Train());
        string last = Path.Combine(dir, TrainingFiles.LastCheckpoint);
        Assert.Equal(2, e.Epoch);
        Assert.Equal(last, e.LastGoodCheckpoint);
        Assert.Contains("NaN", e.Message);
        Assert.Contains(last, e.Message);
        Assert.Equal(1, TrainingCheckpoint.ReadState(last).CompletedEpochs);
        // the failing step applied no update: the parameters still equal the epoch-1 weights
        // (its forward pass did move BatchNorm running statistics; the checkpoint on disk is the good state)
        var saved = XcosCheckpoint.ReadStateDict(Path.Combine(dir, TrainingFiles.LastWeights));
        AssertSameWeights(saved, t.Model, parametersOnly: true);
    }

    [Fact]
    public void CheckpointWriteIsAtomic()
    {
        string dir = _set.NewOutputDir();
        using var t = new XcosTrainer(Tiny(epochs: 1), _set.Train(), null, dir);
        t.Train();
        string last = Path.Combine(dir, TrainingFiles.LastCheckpoint);
        var before = File.ReadAllBytes(last);
        var modules = new Dictionary<string, nn.Module> { ["model"] = t.Model };
        using var failing = new FailingOptimizer(t.Head.parameters());
        var optimizers = new Dictionary<string, OptimizerHelper> { ["x"] = failing };
        Assert.Throws<IOException>(() => TrainingCheckpoint.Write(last, new TrainingState(), t.Options, modules, optimizers));
        Assert.Equal(before, File.ReadAllBytes(last));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
        Assert.Equal(1, TrainingCheckpoint.ReadState(last).CompletedEpochs);
        // a model-only file is refused as a resume point, by name
        var bad = Assert.Throws<CheckpointException>(() => t.Resume(Path.Combine(dir, TrainingFiles.LastWeights)));
        Assert.Contains(TrainingFiles.LastWeights, bad.Message);
    }

    private sealed class FailingOptimizer : OptimizerHelper
    {
        public FailingOptimizer(IEnumerable<Parameter> parameters)
        {
            _parameter_groups = [new ParamGroup<OptimizerOptions>(parameters, new OptimizerOptions { LearningRate = 0.1 })];
        }
        public override Tensor step(Func<Tensor>? closure = null) => throw new NotSupportedException();
        public override StateDictionary state_dict() => throw new IOException("disk full (simulated)");
    }
}

/// <summary>An IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SyncProgress(Action<TrainProgress> report) : IProgress<TrainProgress>
{
    public void Report(TrainProgress value) => report(value);
}
