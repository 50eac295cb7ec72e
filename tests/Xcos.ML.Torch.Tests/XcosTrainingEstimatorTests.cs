using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.MLNet;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>Training inside ML.NET's Fit: <see cref="XcosTrainingEmbeddingEstimator"/> with Training = Full / HeadOnly.</summary>
[Collection("Training")]
public sealed class XcosTrainingEstimatorTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public XcosTrainingEstimatorTests(TinyFaceSet set) => _set = set;

    private sealed class FaceRow
    {
        [VectorType(3, 112, 112)] public float[] FaceTensor { get; set; } = [];
    }

    private sealed class WrongRow
    {
        [VectorType(10)] public float[] Pixels { get; set; } = [];
    }

    // 6 training images, batch 3: two steps of one epoch
    private static XcosTrainerOptions Tiny() => TinyTrainer.Options(epochs: 1, seed: 5) with
    {
        Backbone = new() { LearningRate = 0.05 },
        Head = new() { LearningRate = 0.05 },
        Attention = new() { Kind = OptimizerKind.Adam, LearningRate = 1e-2 },
    };

    private IDataView Faces(MLContext ml) => ml.Data.LoadFromEnumerable(_set.Train().Samples.Take(4).Select(s =>
    {
        var t = new float[3 * 112 * 112];
        FaceTensor.ToChw(ImageIO.Load(s.Path), t);
        return new FaceRow { FaceTensor = t };
    }).ToArray());

    private static float[][] Column(IDataView data, string name) =>
        data.GetColumn<VBuffer<float>>(name).Select(v => v.DenseValues().ToArray()).ToArray();

    private static double MaxDiff(WeightTensor a, WeightTensor b) => a.Data.Zip(b.Data, (x, y) => Math.Abs((double)x - y)).Max();

    [Fact]
    public void FullTrainingInsideFitChangesTheWeightsAndTheTransformerRuns()
    {
        var o = Tiny();
        // the trainer seeds libtorch with Seed before building the network, so the same seed rebuilds its initial weights
        manual_seed(o.Seed);
        Dictionary<string, WeightTensor> init;
        using (var m = new XcosModel(o.ModelOptions(withTarget: false))) init = Export.TorchOnnxExport.ToWeights(m);

        var ml = new MLContext(seed: 1);
        var data = Faces(ml);
        var reports = new List<TrainProgress>();
        var est = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions
        {
            Training = XcosEmbeddingTraining.Full, Trainer = o, TrainingImageFolder = _set.TrainDir,
            TrainingProgress = new SyncProgress<TrainProgress>(reports.Add),
        });
        Assert.Throws<InvalidOperationException>(() => est.Weights);

        // The conformance checks (schema, save/load, refused inputs) fit once on the valid input; each bad input is
        // refused before training starts.
        var output = EstimatorConformance.Check(ml, est, data, new() { RequiredColumns = ["FaceTensor"] });
        Assert.NotNull(est.LastTraining);
        Assert.Equal(1, est.LastTraining!.CompletedEpochs);
        Assert.Equal(2, est.LastTraining.GlobalStep);
        Assert.Contains(reports, r => r.Phase == TrainPhase.Training);

        var trained = est.Weights;
        Assert.Equal(init.Keys.Order(), trained.Keys.Order());
        foreach (var key in new[] { "backbone.input_layer.0.weight", "backbone.conv1x1.0.weight", "attention.attention.0.weight" })
            Assert.True(MaxDiff(init[key], trained[key]) > 1e-6, $"{key} did not change in training");

        var grids = Column(output, "Grid");
        var emb = Column(output, "Embedding");
        Assert.Equal(4, emb.Length);
        Assert.All(grids, g => Assert.Equal(8 * 49, g.Length));
        Assert.All(emb, e => Assert.InRange(Math.Sqrt(e.Sum(v => (double)v * v)), 0.999, 1.001));

        // the ONNX transformer computes what the trained TorchSharp network computes
        using var check = new XcosModel(o.ModelOptions(withTarget: false));
        XcosCheckpoint.Load(check, trained.ToDictionary(kv => kv.Key, kv => tensor(kv.Value.Data, kv.Value.Shape)), new CheckpointLoadOptions { Strict = false });
        check.eval();
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var x = tensor(data.GetColumn<VBuffer<float>>("FaceTensor").SelectMany(v => v.DenseValues()).ToArray(), [4, 3, 112, 112]);
            var want = check.Backbone.Grid(x).Grid.reshape(4, -1).data<float>().ToArray();
            // float32 through two runtimes: compare relative to the map's scale
            float tol = 1e-5f * Math.Max(1f, want.Max(Math.Abs));
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < grids[i].Length; j++)
                    Assert.True(Math.Abs(want[i * grids[i].Length + j] - grids[i][j]) <= tol, $"grid {i},{j}: ONNX {grids[i][j]} vs TorchSharp {want[i * grids[i].Length + j]}");
        }

    }

    [Fact]
    public void HeadOnlyTrainingKeepsTheFrozenTrunk()
    {
        string frozen = Path.Combine(_set.NewOutputDir() + ".pth");
        using (var backbone = BackboneFactory.Create("ir", stages: [1, 1, 1, 1]))
            XcosCheckpoint.Save(backbone, frozen, CheckpointContainer.Bare);
        var frozenWeights = Export.TorchOnnxExport.LoadCheckpointWeights(frozen);
        var o = Tiny() with { TargetCheckpoint = frozen, TargetArch = "ir", TargetStages = [1, 1, 1, 1], Epochs = 2, PairsPerEpoch = 6 };
        var ml = new MLContext(seed: 1);
        var data = Faces(ml);
        var est = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions
        {
            Training = XcosEmbeddingTraining.HeadOnly, Trainer = o, TrainingImageFolder = _set.TrainDir, TargetEmbeddingColumnName = "Target",
            ValidationPairs = [_set.Pairs()],
        });
        var output = est.Fit(data).Transform(data);
        Assert.Equal(2, est.LastTraining!.CompletedEpochs);
        Assert.Single(est.LastTraining.Epochs[^1].Validation);
        var w = est.Weights;
        // the trunk under the grid layer and the target are the frozen model's
        foreach (var key in new[] { "input_layer.0.weight", "body.0.res_layer.1.weight", "body.3.res_layer.4.running_var" })
        {
            Assert.Equal(frozenWeights[key].Data, w["backbone." + key].Data);
            Assert.Equal(frozenWeights[key].Data, w["backbone_target." + key].Data);
        }
        Assert.Contains("backbone.conv1x1.0.weight", w.Keys);
        Assert.Equal(4, Column(output, "Target").Length);
        Assert.All(Column(output, "Grid"), g => Assert.Equal(8 * 49, g.Length));
    }

    [Fact]
    public void BadTrainingOptionsAreReportedBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        Assert.Contains("give TrainingImageFolder or ImagePathColumnName", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(
            new XcosTrainingEmbeddingOptions { Training = XcosEmbeddingTraining.Full, Trainer = Tiny() })).Message);
        Assert.Contains("CheckpointPath must be null", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(
            new XcosTrainingEmbeddingOptions { Training = XcosEmbeddingTraining.Full, Trainer = Tiny(), TrainingImageFolder = _set.TrainDir, CheckpointPath = "x.pth" })).Message);
        Assert.Contains("TargetCheckpoint", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(
            new XcosTrainingEmbeddingOptions { Training = XcosEmbeddingTraining.HeadOnly, Trainer = Tiny(), TrainingImageFolder = _set.TrainDir })).Message);
        Assert.Contains("Epochs", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(
            new XcosTrainingEmbeddingOptions { Training = XcosEmbeddingTraining.Full, Trainer = Tiny() with { Epochs = 0 }, TrainingImageFolder = _set.TrainDir })).Message);

        // a wrong input column fails in Fit before any training step
        var est = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions
        {
            Training = XcosEmbeddingTraining.Full, Trainer = Tiny(), TrainingImageFolder = _set.TrainDir,
        });
        var wrong = ml.Data.LoadFromEnumerable(new[] { new WrongRow { Pixels = new float[10] } });
        Assert.Contains("'FaceTensor' not found", Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(wrong)).Message);
        Assert.Null(est.LastTraining);

        // cancellation stops training and fits nothing
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var cancelled = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions
        {
            Training = XcosEmbeddingTraining.Full, Trainer = Tiny(), TrainingImageFolder = _set.TrainDir, TrainingCancellation = cts.Token,
        });
        Assert.Throws<OperationCanceledException>(() => cancelled.Fit(Faces(ml)));
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private sealed class ImageRow
    {
        [LoadColumn(0)] public string ImagePath { get; set; } = "";
        [LoadColumn(1)] public string Identity { get; set; } = "";
    }

    [Fact]
    public void TrainingReadsTheImagePathAndIdentityColumnsOfItsRowsAndVerifyFacePairsScoresWithTheResult()
    {
        // one ML.NET program: rows from a text file -> face tensors -> train inside Fit -> VerifyFacePairs
        var tsv = Path.Combine(_set.NewOutputDir() + "-rows.tsv");
        var folder = _set.Train();
        File.WriteAllLines(tsv, ["ImagePath\tIdentity", .. folder.Samples.Select(s => $"{s.Path}\t{folder.Identities[s.Label]}")]);
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromTextFile<ImageRow>(tsv, separatorChar: '\t', hasHeader: true);
        var est = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions
        {
            Training = XcosEmbeddingTraining.Full, Trainer = Tiny(), ImagePathColumnName = "ImagePath", IdentityColumnName = "Identity",
        });
        var pipeline = ml.Transforms.LoadImages("Image", null, "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", 112, 112))
            .Append(ml.Transforms.ExtractPixels("FaceTensor", "Image", offsetImage: -127.5f, scaleImage: 1 / 127.5f))
            .Append(est);
        pipeline.Fit(rows);
        Assert.Equal(1, est.LastTraining!.CompletedEpochs);
        Assert.Equal(2, est.LastTraining.GlobalStep); // 6 rows of 2 people, batch 3: the rows were the training set

        var aligned = FacePairInput.AlignedLandmarks();
        var s = folder.Samples;
        var pairRows = ml.Data.LoadFromEnumerable(new[] { (0, 1), (3, 4), (0, 3), (2, 5) }.Select(p => new FacePairInput
        {
            ImagePath1 = s[p.Item1].Path, ImagePath2 = s[p.Item2].Path, Landmarks1 = aligned, Landmarks2 = aligned, Label = s[p.Item1].Label == s[p.Item2].Label,
        }).ToArray());
        var verify = ml.Transforms.VerifyFacePairs(new XcosPipelineOptions { Weights = est.Weights, Threshold = 0.5f }).Fit(pairRows);
        var scored = ml.Data.CreateEnumerable<FacePairPrediction>(verify.Transform(pairRows), reuseRowObject: false).ToArray();
        Assert.Equal(4, scored.Length);
        Assert.All(scored, p => Assert.Equal("ok", p.Status));
        Assert.All(scored, p => Assert.InRange(p.Xcos, -1.0001f, 1.0001f));

        // a row without a person is refused before training, naming the row
        File.AppendAllLines(tsv, [$"{folder.Samples[0].Path}\t "]);
        var bad = ml.Data.LoadFromTextFile<ImageRow>(tsv, separatorChar: '\t', hasHeader: true);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Fit(bad));
        Assert.Contains("row 6 has an empty identity", e.Message);
    }
}
