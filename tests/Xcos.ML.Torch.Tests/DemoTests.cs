using System.Text.Json.Nodes;
using Xcos.ML.Torch.Demo;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// <see cref="DemoRunner"/> on a tiny recipe: training for a fixed number of steps writes a checkpoint with its record,
/// evaluating that checkpoint reproduces the record exactly, and the same seed trains the same weights.
/// </summary>
[Collection("Training")]
public sealed class DemoTests(DemoTests.TinyCheckpoint tiny) : IClassFixture<DemoTests.TinyCheckpoint>
{
    /// <summary>8 identities of 4 images (6 trained, 2 held out), 20 pairs, one epoch of batches of 4: 6 steps.</summary>
    internal static DemoOptions Tiny(string dir) => new()
    {
        OutputDirectory = dir, Train = true, Seed = 4, Threads = 1,
        Data = new DemoDataRecipe { Identities = 8, ImagesPerIdentity = 4, ValidationFraction = 0.25, ValidationPairs = 20 },
        Trainer = DemoRunner.DefaultTrainer with { GridChannels = 8, Epochs = 1, BatchSize = 4, EvaluationBatchSize = 8, TensorBoard = false },
        Figures = 2, RealFaces = false,
    };

    /// <summary>One tiny training run shared by the tests of this class.</summary>
    public sealed class TinyCheckpoint : IDisposable
    {
        public TinyCheckpoint()
        {
            Result = new DemoRunner(Tiny(Dir)).Run(new SyncProgress(p => { lock (Reports) Reports.Add(p); }));
        }

        public string Dir { get; } = Directory.CreateTempSubdirectory("xcos-demo-").FullName;
        public DemoResult Result { get; }
        public List<DemoProgress> Reports { get; } = [];

        public void Dispose()
        {
            try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void TrainingRunsTheFixedStepsAndWritesTheCheckpointWithItsRecordAndPairs()
    {
        var r = tiny.Result;
        Assert.True(r.Trained);
        Assert.Equal((6, 2, 20), (r.Checkpoint.TrainIdentities, r.Checkpoint.HeldOutIdentities, r.Pairs));
        Assert.Equal((1, 6L, 4), (r.Checkpoint.Epochs, r.Checkpoint.Steps, r.Checkpoint.BatchSize));
        Assert.Equal((4, 1, "mobilefacenet"), (r.Checkpoint.Seed, r.Checkpoint.Threads, r.Checkpoint.Architecture));
        Assert.Equal("xcos demo --train --seed 4 --identities 8", r.Checkpoint.Command); // 1 thread is the recipe's
        Assert.StartsWith("custom trainer options", r.Checkpoint.Recipe);
        Assert.Null(r.Recorded); // made another way than the shipped checkpoint: nothing to compare with
        Assert.True(double.IsNaN(r.MaxScoreDifference));

        string dir = Path.Combine(tiny.Dir, "checkpoint");
        Assert.Equal(Path.Combine(dir, DemoCheckpointRecord.CheckpointFileName), r.CheckpointPath);
        Assert.Equal(File.ReadAllText(Path.Combine(tiny.Dir, "data", "val_pairs.tsv")), File.ReadAllText(Path.Combine(dir, DemoCheckpointRecord.PairsFileName)));
        var record = DemoCheckpointRecord.ReadFor(r.CheckpointPath);
        Assert.Equal(r.Xcos, record.Xcos);
        Assert.Equal(r.Cosine, record.Cosine);
        Assert.Equal(r.PixelCosine, record.PixelCosine);
        Assert.Equal(20, record.XcosScores.Length);
        Assert.Equal(r.MlNet.Threshold, record.Threshold);

        Assert.True(File.Exists(r.ReportPath));
        Assert.Contains("<img", File.ReadAllText(r.ReportPath));
        Assert.Equal(4, r.Figures.Count);
        Assert.All(r.Figures, f => Assert.True(new FileInfo(f).Length > 1000, f));
        Assert.Equal((20, 0.0), (r.ReloadedPairs, r.ReloadMaxDifference));
        Assert.Equal(r.Xcos.Auc, r.MlNet.Auc, 6); // ML.NET's AUC of the score margin is the protocol's AUC of the score
        Assert.False(r.RealFaces.Ran);

        // one report per step, each with the time left; the stages in order
        var steps = tiny.Reports.Where(p => p.Stage == DemoStage.Training).ToList();
        Assert.Equal(Enumerable.Range(1, 6), steps.Select(p => p.Done));
        Assert.All(steps, p => Assert.Equal(6, p.Total));
        Assert.Matches(@"^step 6/6 \(epoch 1/1\), loss \d+\.\d{3}, \d+\.\d pairs/s, 0:00 left$", steps[^1].Detail);
        var order = tiny.Reports.Select(p => p.Stage).Distinct().ToList();
        Assert.Equal([DemoStage.Generating, DemoStage.Training, DemoStage.Scoring, DemoStage.Explaining, DemoStage.Reloading], order);
    }

    [Fact]
    public void EvaluatingTheCheckpointReproducesItsRecordExactlyWithoutTraining()
    {
        string dir = Directory.CreateTempSubdirectory("xcos-demo-eval-").FullName;
        try
        {
            var stages = new HashSet<DemoStage>();
            var r = new DemoRunner(new DemoOptions { OutputDirectory = dir, Checkpoint = tiny.Result.CheckpointPath, Threads = 1, Figures = 1, RealFaces = false })
                .Run(new SyncProgress(p => { lock (stages) stages.Add(p.Stage); }));
            Assert.False(r.Trained);
            Assert.DoesNotContain(DemoStage.Training, stages);
            Assert.False(Directory.Exists(Path.Combine(dir, "data", "train")), "only the held-out identities are written");
            Assert.Equal(8, Directory.GetFiles(Path.Combine(dir, "data", "val"), "*.png", SearchOption.AllDirectories).Length);
            Assert.True(r.MatchesRecord);
            Assert.Equal(0, r.MaxScoreDifference);
            Assert.Equal(tiny.Result.Xcos, r.Xcos);
            Assert.Equal(tiny.Result.Cosine, r.Cosine);
            Assert.Equal(2, r.Figures.Count);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TheSameSeedTrainsTheSameWeights()
    {
        string dir = Directory.CreateTempSubdirectory("xcos-demo-again-").FullName;
        try
        {
            var again = new DemoRunner(Tiny(dir) with { Figures = 0 }).Run();
            Assert.Equal(tiny.Result.Checkpoint.XcosScores, again.Checkpoint.XcosScores);
            Assert.Equal(tiny.Result.Checkpoint.CosineScores, again.Checkpoint.CosineScores);
            var a = TorchOnnxExport.LoadCheckpointWeights(tiny.Result.CheckpointPath);
            var b = TorchOnnxExport.LoadCheckpointWeights(again.CheckpointPath);
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            Assert.All(a, kv => Assert.True(kv.Value.Data.AsSpan().SequenceEqual(b[kv.Key].Data), kv.Key));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void ARecordOfOtherWeightsOrOtherImagesIsRefusedByName()
    {
        string dir = Directory.CreateTempSubdirectory("xcos-demo-bad-").FullName;
        try
        {
            string pth = Path.Combine(dir, "model.pth");
            File.Copy(tiny.Result.CheckpointPath, pth);
            var missing = Assert.Throws<FileNotFoundException>(() => DemoCheckpointRecord.ReadFor(pth));
            Assert.Contains("model.json", missing.Message);
            Assert.Contains("xcos demo --train", missing.Message);

            var json = JsonNode.Parse(File.ReadAllText(DemoCheckpointRecord.PathFor(tiny.Result.CheckpointPath)))!;
            json["checkpoint_sha256"] = new string('0', 64);
            File.WriteAllText(Path.Combine(dir, "model.json"), json.ToJsonString());
            Assert.Contains("belongs to other weights", Assert.Throws<InvalidDataException>(() => DemoCheckpointRecord.ReadFor(pth)).Message);

            json["checkpoint_sha256"] = DemoCheckpointRecord.Sha256(pth);
            json["validation_sha256"] = new string('0', 64);
            File.WriteAllText(Path.Combine(dir, "model.json"), json.ToJsonString());
            var runner = new DemoRunner(new DemoOptions { OutputDirectory = Path.Combine(dir, "out"), Checkpoint = pth, Threads = 1, RealFaces = false });
            var e = Assert.Throws<InvalidDataException>(() => runner.Run());
            Assert.Contains("differ from those the checkpoint was measured on", e.Message);
            Assert.False(File.Exists(Path.Combine(dir, "out", "xcos_pipeline.zip")), "nothing is scored on other images");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void BadDemoOptionsNameTheOption()
    {
        var train = Tiny("x");
        Assert.Contains("Figures", Assert.Throws<ArgumentException>(() => new DemoRunner(train with { Figures = -1 })).Message);
        Assert.Contains("Threads", Assert.Throws<ArgumentException>(() => new DemoRunner(train with { Threads = 0 })).Message);
        Assert.Contains("ValidationPairs", Assert.Throws<ArgumentException>(() => new DemoRunner(train with { Data = train.Data with { ValidationPairs = 8 } })).Message);
        Assert.Contains("Trainer.Mode", Assert.Throws<ArgumentException>(() => new DemoRunner(train with { Trainer = DemoRunner.DefaultTrainer with { Mode = TrainingMode.Head } })).Message);
        Assert.Contains("Checkpoint", Assert.Throws<ArgumentException>(() => new DemoRunner(train with { Checkpoint = "a.pth" })).Message);
        Assert.Contains("Seed", Assert.Throws<ArgumentException>(() => new DemoRunner(new DemoOptions { OutputDirectory = "x", Seed = 1 })).Message);
    }

    private sealed class SyncProgress(Action<DemoProgress> report) : IProgress<DemoProgress>
    {
        public void Report(DemoProgress value) => report(value);
    }
}
