using Microsoft.ML;
using Xcos.ML.MLNet;

namespace Xcos.ML.Torch.Tests;

/// <summary>One loaded xcos_tiny pipeline served to many threads through <see cref="XcosPredictionPool{TSrc, TDst}"/>.</summary>
public class PredictionPoolTests(FittedPipeline fitted) : IClassFixture<FittedPipeline>
{
    [Fact]
    public void EightThreadsOnOneLoadedModelGetTheSingleThreadResults()
    {
        var ml = new MLContext(seed: 5);
        using var pool = XcosPredictionPool<PairInput, PairPrediction>.Load(ml, fitted.ZipPath);
        var single = fitted.Rows.Select(pool.Predict).ToArray();
        Assert.Equal(new[] { true, true, false, false }, single.Select(p => p.PredictedLabel));

        const int threads = 8, perThread = 200;
        var wrong = new int[threads];
        // Real threads, not the thread pool, so all eight engines run at the same time.
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            for (int k = 0; k < perThread; k++)
            {
                int row = (k + t) % fitted.Rows.Length;
                var p = pool.Predict(fitted.Rows[row]);
                if (p.Score != single[row].Score || p.Cosine != single[row].Cosine || p.PredictedLabel != single[row].PredictedLabel) wrong[t]++;
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
