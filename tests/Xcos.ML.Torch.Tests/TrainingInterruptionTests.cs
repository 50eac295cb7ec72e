using System.Globalization;
using TorchSharp;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Training;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// The training row of the bad-input matrix, in process: a stop during validation, a kill between the log row and
/// the checkpoint's rename, a second run into the same folder, a full disk during a checkpoint write, and
/// <c>--config</c> over a resumed run's options.
/// </summary>
[Collection("Training")]
public sealed class TrainingInterruptionTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public TrainingInterruptionTests(TinyFaceSet set) => _set = set;

    // 6 training images, batch 3: two steps per epoch
    private static XcosTrainerOptions Tiny(int epochs = 2) => TinyTrainer.Options(epochs);

    private static int[] LoggedEpochs(string dir) =>
        File.ReadAllLines(Path.Combine(dir, TrainingFiles.Log)).Skip(1).Select(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).ToArray();

    private static Dictionary<string, Tensor> Snapshot(nn.Module m) => m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    private static void AssertSame(Dictionary<string, Tensor> expected, nn.Module actual)
    {
        var a = actual.state_dict();
        foreach (var (k, t) in expected) Assert.True(t.eq(a[k]).all().item<bool>(), $"{k} differs");
    }

    [Fact]
    public void StopDuringValidationKeepsTheFinishedEpochAndResumesExactly()
    {
        var folder = _set.Train();
        var pairs = new[] { _set.Pairs() };
        Dictionary<string, Tensor> init, final;
        using (var a = new XcosTrainer(Tiny(), folder, pairs, _set.NewOutputDir()))
        {
            init = Snapshot(a.Model);
            a.Train();
            final = Snapshot(a.Model);
        }

        string dir = _set.NewOutputDir();
        using (var b = new XcosTrainer(Tiny(), folder, pairs, dir))
        {
            XcosCheckpoint.Load(b.Model, init);
            using var cts = new CancellationTokenSource();
            // Ctrl-C lands while epoch 2 is being validated
            var r = b.Train(new SyncProgress(p => { if (p.Phase == TrainPhase.Validating && p.Epoch == 2) cts.Cancel(); }), cts.Token);
            Assert.True(r.Cancelled);
            var state = TrainingCheckpoint.ReadState(Path.Combine(dir, TrainingFiles.LastCheckpoint));
            Assert.Equal(4, state.GlobalStep); // both steps of epoch 2 are in the checkpoint
            Assert.Equal(1, state.CompletedEpochs);
            Assert.Equal(2, state.StepInEpoch);
            Assert.Equal([1], LoggedEpochs(dir));
        }
        using (var c = new XcosTrainer(Tiny(), folder, pairs, dir))
        {
            c.Resume(Path.Combine(dir, TrainingFiles.LastCheckpoint));
            var r = c.Train();
            Assert.Equal(2, r.CompletedEpochs);
            Assert.Equal(4, r.GlobalStep);
            Assert.Equal(10, r.Epochs.Single().Validation[0].Pairs); // the resumed run validated epoch 2
            AssertSame(final, c.Model);
        }
        Assert.Equal([1, 2], LoggedEpochs(dir));
    }

    [Fact]
    public void KillBetweenLogRowAndCheckpointRenameLeavesOneRowPerEpoch()
    {
        string dir = _set.NewOutputDir();
        using (var a = new XcosTrainer(Tiny(epochs: 1), _set.Train(), null, dir)) a.Train();
        // what a kill -9 after the epoch-2 row but before last.ckpt's rename leaves behind
        var log = Path.Combine(dir, TrainingFiles.Log);
        var row = File.ReadAllLines(log)[1];
        Assert.StartsWith("1,2,", row);
        File.AppendAllText(log, "2,4," + row[4..] + "\n");
        var stale = Path.Combine(dir, $".{TrainingFiles.LastCheckpoint}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(stale, new byte[100]);
        Assert.Equal([1, 2], LoggedEpochs(dir));

        using (var b = new XcosTrainer(Tiny(epochs: 2), _set.Train(), null, dir))
        {
            b.Resume(Path.Combine(dir, TrainingFiles.LastCheckpoint));
            Assert.Equal(2, b.Train().CompletedEpochs);
        }
        Assert.Equal([1, 2], LoggedEpochs(dir));
        Assert.False(File.Exists(stale));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void AFreshTrainerInAUsedFolderDoesNotInterleaveTheLog()
    {
        string dir = _set.NewOutputDir();
        using (var a = new XcosTrainer(Tiny(epochs: 2), _set.Train(), null, dir)) a.Train();
        Assert.NotNull(TrainingFiles.DescribeRun(dir));
        Assert.Contains("2 epoch(s)", TrainingFiles.DescribeRun(dir));
        using (var b = new XcosTrainer(Tiny(epochs: 1), _set.Train(), null, dir)) b.Train();
        Assert.Equal([1], LoggedEpochs(dir)); // was 1, 2, 1
        TrainingFiles.RemoveRun(dir);
        Assert.Null(TrainingFiles.DescribeRun(dir));
        // a run that failed before its first checkpoint leaves only its options: a new run may start there
        File.WriteAllText(Path.Combine(dir, TrainingFiles.Options), "{}");
        Assert.Null(TrainingFiles.DescribeRun(dir));
    }

    [Fact]
    public void FullDiskDuringACheckpointWriteKeepsThePreviousOne()
    {
        string dir = _set.NewOutputDir();
        using var t = new XcosTrainer(Tiny(epochs: 1), _set.Train(), null, dir);
        t.Train();
        string last = Path.Combine(dir, TrainingFiles.LastCheckpoint);
        var before = File.ReadAllBytes(last);
        var modules = new Dictionary<string, nn.Module> { ["model"] = t.Model, ["head"] = t.Head };
        var e = Assert.Throws<IOException>(() => TrainingCheckpoint.Write(last, t.State with { CompletedEpochs = 5 }, t.Options, modules,
            new Dictionary<string, TorchSharp.Modules.OptimizerHelper>(), temp => new FullDisk(new FileStream(temp, FileMode.CreateNew), 20_000)));
        Assert.Contains("No space left", e.Message);
        Assert.Equal(before, File.ReadAllBytes(last));
        Assert.Equal(1, TrainingCheckpoint.ReadState(last).CompletedEpochs);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void ConfigOverAResumedRunKeepsWhatItDoesNotName()
    {
        string dir = _set.NewOutputDir();
        Directory.CreateDirectory(dir);
        var resumed = Tiny() with { Head = new() { LearningRate = 0.02, WeightDecay = 4e-4 } };
        var cfg = Path.Combine(dir, "cfg.json");
        File.WriteAllText(cfg, "{ \"epochs\": 7, \"head\": { \"learningRate\": 0.5 }, // comment\n }");
        var o = XcosTrainerOptions.LoadJson(cfg, resumed);
        Assert.Equal(7, o.Epochs);
        Assert.Equal(0.5, o.Head.LearningRate);
        Assert.Equal(4e-4, o.Head.WeightDecay); // nested: only the named property changed
        Assert.Equal("ir", o.Arch);
        Assert.Equal([1, 1, 1, 1], o.Stages!);
        Assert.Equal(8, o.GridChannels);
        File.WriteAllText(cfg, "[1, 2]");
        Assert.Contains(cfg, Assert.Throws<InvalidDataException>(() => XcosTrainerOptions.LoadJson(cfg, resumed)).Message);
    }

    /// <summary>A file stream that fails like a full disk once <paramref name="capacity"/> bytes are written.</summary>
    private sealed class FullDisk(FileStream inner, long capacity) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => inner.SetLength(value);
        public override void Write(byte[] buffer, int offset, int count)
        {
            if (inner.Position + count > capacity) throw new IOException("No space left on device : '" + inner.Name + "'");
            inner.Write(buffer, offset, count);
        }
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
    }
}
