using Microsoft.ML;
using Xcos.ML.MLNet;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The reloading step: saves the fitted pipeline as a .zip, loads it in a fresh <see cref="MLContext"/> and scores the
/// held-out pairs again; every decision must agree and every score match to 1e-6.
/// </summary>
internal static class DemoReload
{
    /// <summary>Saves, reloads, rescores.</summary>
    /// <returns>The largest |xCos difference| between the fitted and the reloaded pipeline.</returns>
    /// <exception cref="InvalidOperationException">The reloaded pipeline decides or scores differently (the pair is named).</exception>
    public static double Check(DemoEvaluation evaluation, FacePairInput[] rows, string zipPath, int seed, Action<int, int> progress, CancellationToken ct)
    {
        evaluation.Context.Model.Save(evaluation.Model, evaluation.InputSchema, zipPath);
        var fresh = new MLContext(seed: seed + 1);
        fresh.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
        var loaded = fresh.Model.Load(zipPath, out _);
        // ML.NET writes each ONNX stage's model to a temporary file that only Dispose deletes
        using var owned = loaded as IDisposable;
        var again = DemoEvaluation.Materialize(fresh, loaded.Transform(fresh.Data.LoadFromEnumerable(rows)), rows.Length, n => progress(n, rows.Length), ct);
        var before = evaluation.Predictions;
        double max = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)again[i].Xcos - before[i].Xcos));
            if (again[i].PredictedLabel != before[i].PredictedLabel)
                throw new InvalidOperationException($"{zipPath}: the reloaded pipeline decides pair {i} differently ({again[i].Xcos} vs {before[i].Xcos})");
        }
        if (max > 1e-6) throw new InvalidOperationException($"{zipPath}: the reloaded pipeline's scores differ from the fitted one's by up to {max:E2}");
        return max;
    }
}
