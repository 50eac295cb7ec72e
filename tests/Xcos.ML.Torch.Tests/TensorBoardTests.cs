using TorchSharp;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Tests;

/// <summary>TensorBoard event files of a training run, read back record by record.</summary>
public sealed class TensorBoardTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public TensorBoardTests(TinyFaceSet set) => _set = set;

    [Fact]
    public void TrainingWritesLossesRatesValidationAndAFigurePerEpoch()
    {
        var options = new XcosTrainerOptions
        {
            Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 8, Epochs = 2, BatchSize = 3, Threads = 1, Seed = 4,
            ValidationFolds = 5, EvaluationBatchSize = 8, LrStepSize = 1, LrGamma = 0.5,
        };
        var dir = _set.NewOutputDir();
        TrainingResult result;
        using (var trainer = new XcosTrainer(options, _set.Train(), [_set.Pairs()], dir))
            result = trainer.Train();

        var file = Assert.Single(Directory.GetFiles(Path.Combine(dir, TrainingFiles.TensorBoard), "events.out.tfevents.*"));
        var (version, values) = TensorBoardEvents.Read(file);
        Assert.Equal("brain.Event:2", version);
        Assert.All(values, v => Assert.InRange(v.WallTime, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 60));
        List<TensorBoardValue> Tag(string tag) => values.Where(v => v.Tag == tag).ToList();

        Assert.Equal(Enumerable.Range(1, (int)result.GlobalStep).Select(i => (long)i), Tag("train/loss_step").Select(v => v.Step));
        foreach (var e in result.Epochs)
        {
            Assert.Equal((float)e.Loss, Tag("train/loss").Single(v => v.Step == e.Epoch).Scalar);
            Assert.Equal((float)e.LearningRates["backbone"], Tag("lr/backbone").Single(v => v.Step == e.Epoch).Scalar);
            Assert.Equal((float)e.LearningRates["attention"], Tag("lr/attention").Single(v => v.Step == e.Epoch).Scalar);
            var val = Assert.Single(e.Validation);
            Assert.Equal((float)val.Xcos.AccuracyMean, Tag($"valid/{val.Name}/xcos_accuracy").Single(v => v.Step == e.Epoch).Scalar);
            Assert.Equal((float)val.Cosine.Auc, Tag($"valid/{val.Name}/cosine_auc").Single(v => v.Step == e.Epoch).Scalar);
        }
        Assert.Equal(0.5f * Tag("lr/backbone")[0].Scalar, Tag("lr/backbone")[1].Scalar); // StepLR every epoch, gamma 0.5
        var figures = Tag("explanation/valid_pair0");
        Assert.Equal([1L, 2L], figures.Select(f => f.Step));
        foreach (var f in figures)
        {
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, f.Image![..4]);
            Assert.True(f.ImageWidth > 112 && f.ImageHeight > 112, $"{f.ImageWidth}x{f.ImageHeight}");
        }
    }

    [Fact]
    public void TheReaderAlsoReadsTorchSharpsOwnSummaryWriter()
    {
        // a second writer checks the reader, so that the reader checking our writer means something
        var dir = Directory.CreateTempSubdirectory("xcos-tb-").FullName;
        var w = torch.utils.tensorboard.SummaryWriter(dir);
        w.add_scalar("check/value", 0.25f, 7);
        var (version, values) = TensorBoardEvents.Read(Assert.Single(Directory.GetFiles(dir, "events.out.tfevents.*")));
        Assert.Equal("brain.Event:2", version);
        var v = Assert.Single(values);
        Assert.Equal(("check/value", 7L, 0.25f), (v.Tag, v.Step, v.Scalar));
        Directory.Delete(dir, true);
    }
}
