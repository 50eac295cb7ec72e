using Xcos.ML.Metrics;
using Xcos.ML.Torch.Demo;
using Xcos.ML.Torch.Export;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// The checkpoint committed in <c>data/demo</c>: made by the committed recipe, a few MB, and it scores the held-out pairs
/// it was measured on to its recorded figures. Tolerance: each pair's xCos and cosine within 1e-5 of the recorded score
/// (ONNX Runtime may pick other kernels on another processor), accuracy within one pair, AUC within 1e-4; on the
/// machine that made the record they are equal.
/// </summary>
public sealed class DemoCheckpointTests
{
    private static DemoCheckpointRecord Shipped() => DemoCheckpointRecord.ReadFor(DemoCheckpointRecord.ShippedCheckpoint);

    [Fact]
    public void TheShippedCheckpointWasMadeByTheCommittedRecipeAndIsSmall()
    {
        var record = Shipped(); // also checks the record's SHA-256 of the checkpoint
        var recipe = DemoRunner.DefaultTrainer;
        Assert.Equal("configs/" + DemoRunner.RecipeFile, record.Recipe);
        Assert.Equal((recipe.Seed, recipe.Threads, recipe.Epochs, recipe.BatchSize), (record.Seed, (int?)record.Threads, record.Epochs, record.BatchSize));
        Assert.Equal(new DemoDataRecipe(), record.Data);
        Assert.Equal("xcos demo --train", record.Command);
        Assert.Equal((225, 25), (record.TrainIdentities, record.HeldOutIdentities));
        // one pair per training image per epoch, in batches of 32; the last, smaller batch is kept
        Assert.Equal(recipe.Epochs * (int)Math.Ceiling(225 * 8 / (double)recipe.BatchSize), record.Steps);
        Assert.InRange(new FileInfo(DemoCheckpointRecord.ShippedCheckpoint).Length, 100_000, 8 << 20);
    }

    [Fact]
    public void TheShippedCheckpointScoresItsHeldOutPairsToTheRecordedAccuracy()
    {
        var record = Shipped();
        string dir = Directory.CreateTempSubdirectory("xcos-demo-shipped-").FullName;
        try
        {
            var data = DemoData.Write(dir, record.Data, withTraining: false, workers: null, (_, _) => { }, default);
            Assert.Equal(File.ReadAllText(Path.Combine(DemoCheckpointRecord.ShippedDirectory, record.ValidationPairs)), File.ReadAllText(data.PairsPath));
            Assert.Equal(record.ValidationSha256, data.ValidationDigest);

            var weights = TorchOnnxExport.LoadCheckpointWeights(DemoCheckpointRecord.ShippedCheckpoint);
            var e = DemoEvaluation.Run(weights, data.Rows, new VerificationOptions(), record.Data.Seed, (_, _, _) => { }, default);
            var xcos = e.Predictions.Select(p => p.Xcos).ToArray();
            var cosine = e.Predictions.Select(p => p.Cosine).ToArray();
            Assert.Equal(record.XcosScores.Length, xcos.Length);
            for (int i = 0; i < xcos.Length; i++)
            {
                Assert.True(Math.Abs(xcos[i] - record.XcosScores[i]) <= 1e-5, $"pair {i}: xCos {xcos[i]}, recorded {record.XcosScores[i]}");
                Assert.True(Math.Abs(cosine[i] - record.CosineScores[i]) <= 1e-5, $"pair {i}: cosine {cosine[i]}, recorded {record.CosineScores[i]}");
            }
            double onePair = 1.0 / xcos.Length;
            Assert.Equal(record.Xcos.Accuracy, e.Xcos.AccuracyMean, onePair);
            Assert.Equal(record.Cosine.Accuracy, e.Cosine.AccuracyMean, onePair);
            Assert.Equal(record.Xcos.Auc, e.Xcos.Auc, 1e-4);
            Assert.Equal(record.Cosine.Auc, e.Cosine.Auc, 1e-4);
            Assert.Equal(record.PixelCosine.Accuracy, e.PixelCosine.AccuracyMean, 1e-12);
            // the model has learned something the pixels do not show
            Assert.True(record.Xcos.Accuracy > record.PixelCosine.Accuracy + 0.15, $"xCos {record.Xcos.Accuracy}, pixel cosine {record.PixelCosine.Accuracy}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
