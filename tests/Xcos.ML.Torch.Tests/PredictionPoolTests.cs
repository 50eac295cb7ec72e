using Microsoft.ML;
using Xcos.ML.MLNet;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// The pipeline of a small random MobileFaceNet xCos model (8 grid channels, no target backbone) on the four
/// xcos_tiny fixture pairs, fitted and saved to a .zip. About 15 times cheaper per pair than the fixture checkpoint
/// (whose one-unit stages still run full-width convolutions at 112x112), so 1,600 predictions take seconds.
/// </summary>
public sealed class SmallPipeline : IDisposable
{
    public SmallPipeline()
    {
        Dictionary<string, Onnx.WeightTensor> weights;
        manual_seed(3);
        using (var model = new XcosModel(new XcosModelOptions { Arch = "mobilefacenet", GridChannels = 8 }))
        {
            model.eval();
            weights = TorchOnnxExport.ToWeights(model);
        }
        Rows = Enumerable.Range(0, 4).Select(p => new PairInput
        {
            ImagePath1 = Fixtures.Path("xcos_tiny", $"pair{p}_image1.png"),
            ImagePath2 = Fixtures.Path("xcos_tiny", $"pair{p}_image2.png"),
            Landmarks1 = FacePairInput.AlignedLandmarks(), Landmarks2 = FacePairInput.AlignedLandmarks(),
            Label = p < 2,
        }).ToArray();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows);
        var fitted = XcosPipeline.Create(ml.Transforms, new XcosPipelineOptions { Weights = weights }).Fit(data);
        ZipPath = Path.Combine(Path.GetTempPath(), $"xcos_pool_{Guid.NewGuid():N}.zip");
        ml.Model.Save(fitted, data.Schema, ZipPath);
        (fitted as IDisposable)?.Dispose();
    }

    public PairInput[] Rows { get; }
    public string ZipPath { get; }

    public void Dispose() => File.Delete(ZipPath);
}

/// <summary>One loaded pipeline served to many threads through <see cref="XcosPredictionPool{TSrc, TDst}"/>.</summary>
public class PredictionPoolTests(SmallPipeline fitted) : IClassFixture<SmallPipeline>
{
    private static bool Same(PairPrediction a, PairPrediction b) =>
        BitConverter.SingleToInt32Bits(a.Score) == BitConverter.SingleToInt32Bits(b.Score)
        && BitConverter.SingleToInt32Bits(a.Xcos) == BitConverter.SingleToInt32Bits(b.Xcos)
        && BitConverter.SingleToInt32Bits(a.Cosine) == BitConverter.SingleToInt32Bits(b.Cosine)
        && a.PredictedLabel == b.PredictedLabel && a.Status == b.Status;

    [Fact]
    public void EightThreadsOnOneLoadedModelGetTheSingleThreadResults()
    {
        var ml = new MLContext(seed: 5);
        using var pool = XcosPredictionPool<PairInput, PairPrediction>.Load(ml, fitted.ZipPath);
        var single = fitted.Rows.Select(pool.Predict).ToArray();
        // Finite scores that differ between pairs: a broken model (NaN, constant) would make the comparison below say little.
        Assert.All(single, p => Assert.True(float.IsFinite(p.Score)));
        Assert.True(single.Select(p => p.Score).Distinct().Count() > 1, "every pair has the same score");

        const int threads = 8, perThread = 200;
        var wrong = new int[threads];
        // Real threads, not the thread pool, so all eight engines run at the same time.
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            for (int k = 0; k < perThread; k++)
            {
                int row = (k + t) % fitted.Rows.Length;
                var p = pool.Predict(fitted.Rows[row]);
                if (!Same(p, single[row])) wrong[t]++;
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        Assert.Equal(new int[threads], wrong);
        Assert.InRange(pool.EngineCount, 1, threads + 1);
    }

    [Fact]
    public void DisposingAnEngineThatDoesNotOwnTheModelLeavesTheOthersWorking()
    {
        var ml = new MLContext(seed: 6);
        var model = ml.Model.Load(fitted.ZipPath, out _);
        try
        {
            var options = new PredictionEngineOptions { OwnsTransformer = false };
            var keep = ml.Model.CreatePredictionEngine<PairInput, PairPrediction>(model, options);
            var before = keep.Predict(fitted.Rows[0]).Score;
            ml.Model.CreatePredictionEngine<PairInput, PairPrediction>(model, options).Dispose();
            Assert.Equal(before, keep.Predict(fitted.Rows[0]).Score);
            keep.Dispose();
        }
        finally { (model as IDisposable)?.Dispose(); }
    }

    [Fact]
    public void PredictAfterDisposeThrows()
    {
        var pool = XcosPredictionPool<PairInput, PairPrediction>.Load(new MLContext(seed: 7), fitted.ZipPath);
        pool.Predict(fitted.Rows[0]);
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Predict(fitted.Rows[0]));
    }

    [Fact]
    public void LoadOfAMissingFileNamesIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"xcos_missing_{Guid.NewGuid():N}.zip");
        var e = Assert.Throws<FileNotFoundException>(() => XcosPredictionPool<PairInput, PairPrediction>.Load(new MLContext(), path));
        Assert.Contains(path, e.Message);
    }
}
