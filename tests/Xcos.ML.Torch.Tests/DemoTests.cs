using Microsoft.ML;
using Xcos.ML.Data;
using Xcos.ML.MLNet;
using Xcos.ML.Torch.Demo;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Tests;

[Collection("Training")]
public sealed class DemoTests
{
    private static DemoOptions Tiny(string dir) => new()
    {
        OutputDirectory = dir, MinutesBudget = 20, Seed = 4, Threads = 1,
        Identities = 8, ImagesPerIdentity = 4, ValidationFraction = 0.25, ValidationPairs = 20, Figures = 2,
        Trainer = DemoRunner.DefaultTrainer with { GridChannels = 8, Epochs = 1, BatchSize = 4, EvaluationBatchSize = 8 },
        ModelsDirectory = Path.Combine(dir, "no-models-here"),
    };

    [Fact]
    public void TinyDemoWritesEverythingAndTheReloadedZipScoresTheSame()
    {
        string dir = Path.Combine(Path.GetTempPath(), "xcos-demo-" + Guid.NewGuid().ToString("N"));
        try
        {
            var stages = new HashSet<DemoStage>();
            var result = new DemoRunner(Tiny(dir)).Run(new SyncProgress(p => { lock (stages) stages.Add(p.Stage); }));

            Assert.Equal(6, result.TrainIdentities);
            Assert.Equal(2, result.HeldOutIdentities);
            Assert.Equal(20, result.Pairs);
            Assert.Equal(1, result.Epochs);
            Assert.Equal(6, result.Steps);
            Assert.Equal("mobilefacenet", result.Architecture);
            Assert.False(result.StoppedByBudget);
            Assert.True(File.Exists(result.ReportPath), result.ReportPath);
            Assert.Contains("<img", File.ReadAllText(result.ReportPath));
            Assert.True(File.Exists(result.ModelZipPath));
            Assert.True(File.Exists(result.WeightsPath));
            Assert.Equal(4, result.Figures.Count);
            Assert.All(result.Figures, f => Assert.True(new FileInfo(f).Length > 1000, f));
            Assert.Equal(20, result.ReloadedPairs);
            Assert.Equal(0, result.ReloadMaxDifference);
            Assert.False(result.RealFaces.Ran);
            Assert.Contains("not found", result.RealFaces.Note);
            foreach (var s in new[] { result.Xcos, result.Cosine, result.PixelCosine })
            {
                Assert.InRange(s.Accuracy, 0, 1);
                Assert.InRange(s.Auc, 0, 1);
            }
            // ML.NET's AUC of the score margin is the protocol's AUC of the score
            Assert.Equal(result.Xcos.Auc, result.MlNet.Auc, 6);
            Assert.InRange(result.MlNet.Threshold, -1, 1);
            Assert.Contains(DemoStage.Generating, stages);
            Assert.Contains(DemoStage.Training, stages);
            Assert.Contains(DemoStage.Reloading, stages);

            // the saved .zip, loaded here independently, reproduces the demo's xCos figures on the held-out pairs
            var ml = new MLContext(seed: 9);
            ml.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
            var model = ml.Model.Load(result.ModelZipPath, out _);
            string data = Path.Combine(dir, "data");
            var rows = PairTsv.Parse(Path.Combine(data, "val_pairs.tsv")).Select(p => new FacePairInput
            {
                ImagePath1 = Path.Combine(data, p.Id1), ImagePath2 = Path.Combine(data, p.Id2),
                Landmarks1 = FacePairInput.AlignedLandmarks(), Landmarks2 = FacePairInput.AlignedLandmarks(), Label = p.Same,
            }).ToArray();
            var scored = model.Transform(ml.Data.LoadFromEnumerable(rows));
            var report = ml.EvaluateVerification(scored);
            Assert.Equal(result.Xcos.Accuracy, report.AccuracyMean);
            Assert.Equal(result.Xcos.Auc, report.Auc);
            Assert.Equal(result.Cosine.Auc, ml.EvaluateVerification(scored, scoreColumnName: "Cosine").Auc);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void BadDemoOptionsNameTheOption()
    {
        Assert.Contains("MinutesBudget", Assert.Throws<ArgumentException>(() => new DemoRunner(Tiny("x") with { MinutesBudget = 0 })).Message);
        Assert.Contains("ValidationPairs", Assert.Throws<ArgumentException>(() => new DemoRunner(Tiny("x") with { ValidationPairs = 8 })).Message);
        Assert.Contains("Trainer.Mode", Assert.Throws<ArgumentException>(() => new DemoRunner(Tiny("x") with { Trainer = DemoRunner.DefaultTrainer with { Mode = TrainingMode.Head } })).Message);
    }

    private sealed class SyncProgress(Action<DemoProgress> report) : IProgress<DemoProgress>
    {
        public void Report(DemoProgress value) => report(value);
    }
}
