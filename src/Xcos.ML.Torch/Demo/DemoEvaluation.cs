using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The scoring step: the ML.NET pipeline (<c>VerifyFacePairs</c>) over the checkpoint's weights, fitted on the held-out
/// pairs (threshold from the labels) and run once over them; then the k-fold figures of xCos, the plain cosine and the
/// pixel cosine, and ML.NET's <c>EvaluateNonCalibrated</c>.
/// </summary>
internal sealed class DemoEvaluation : IDisposable
{
    /// <summary>Disposes the fitted pipeline: its ONNX stages hold temporary copies of their models, deleted only on dispose.</summary>
    public void Dispose() => (Model as IDisposable)?.Dispose();

    /// <summary>The ML.NET context the pipeline was fitted in.</summary>
    public required MLContext Context { get; init; }
    /// <summary>The fitted pipeline.</summary>
    public required ITransformer Model { get; init; }
    /// <summary>Schema of the input rows (for saving the pipeline).</summary>
    public required DataViewSchema InputSchema { get; init; }
    /// <summary>One scored row per held-out pair.</summary>
    public required FacePairPrediction[] Predictions { get; init; }
    /// <summary>xCos, k-fold protocol.</summary>
    public required VerificationReport Xcos { get; init; }
    /// <summary>Plain cosine, k-fold protocol.</summary>
    public required VerificationReport Cosine { get; init; }
    /// <summary>Pixel cosine, k-fold protocol.</summary>
    public required VerificationReport PixelCosine { get; init; }
    /// <summary>ML.NET's binary-classification metrics of the fitted decision.</summary>
    public required DemoMlNetMetrics MlNet { get; init; }

    /// <summary>Fits, scores and evaluates.</summary>
    /// <exception cref="InvalidOperationException">A pair could not be scored, or the pipeline's decisions do not follow its threshold.</exception>
    public static DemoEvaluation Run(IReadOnlyDictionary<string, WeightTensor> weights, FacePairInput[] rows, VerificationOptions verification,
        int seed, Action<int, int, string> progress, CancellationToken ct)
    {
        var ml = new MLContext(seed: seed);
        var data = ml.Data.LoadFromEnumerable(rows);
        progress(0, rows.Length, "fitting the pipeline (threshold from labels)");
        var fitted = ml.Transforms.VerifyFacePairs(new XcosPipelineOptions { Weights = weights, Verification = verification }).Fit(data);
        var predictions = Materialize(ml, fitted.Transform(data), rows.Length, n => progress(n, rows.Length, "scoring held-out pairs"), ct);

        var same = rows.Select(r => r.Label).ToArray();
        // the pipeline's rule (BestAccuracy), recomputed on the raw xCos; the pipeline's Score is already the margin
        float threshold = (float)VerificationMetrics.BestThreshold(predictions.Select(p => p.Xcos).ToArray(), same, verification.BuildThresholds()).Threshold;
        for (int i = 0; i < predictions.Length; i++)
            if (predictions[i].PredictedLabel != predictions[i].Xcos > threshold)
                throw new InvalidOperationException($"pair {i}: the pipeline's decision does not follow the threshold {threshold} (score {predictions[i].Xcos})");
        var view = ml.Data.LoadFromEnumerable(predictions.Select((p, i) => new EvaluationRow
        {
            Label = same[i], Score = p.Xcos, Cosine = p.Cosine, PredictedLabel = p.PredictedLabel, Margin = p.Score,
        }));
        var bin = ml.BinaryClassification.EvaluateNonCalibrated(view, "Label", "Margin", "PredictedLabel");
        return new DemoEvaluation
        {
            Context = ml, Model = fitted, InputSchema = data.Schema, Predictions = predictions,
            Xcos = ml.EvaluateVerification(view, "Label", "Score", verification),
            Cosine = ml.EvaluateVerification(view, "Label", "Cosine", verification),
            PixelCosine = VerificationMetrics.Evaluate(PixelCosines(rows), same, verification),
            MlNet = new DemoMlNetMetrics(bin.Accuracy, bin.AreaUnderRocCurve, bin.F1Score, bin.PositivePrecision, bin.PositiveRecall, threshold),
        };
    }

    /// <summary>Runs a pipeline once over every row (one pass, with progress); a pair that is not "ok" is an error.</summary>
    public static FacePairPrediction[] Materialize(MLContext ml, IDataView scored, int count, Action<int> progress, CancellationToken ct)
    {
        var result = new List<FacePairPrediction>(count);
        foreach (var p in ml.Data.CreateEnumerable<FacePairPrediction>(scored, reuseRowObject: false))
        {
            ct.ThrowIfCancellationRequested();
            if (p.Status != "ok")
                throw new InvalidOperationException($"pair {result.Count}: {p.Status}");
            result.Add(p);
            progress(result.Count);
        }
        return result.ToArray();
    }

    /// <summary>Cosine of the two faces' normalised pixel tensors, per pair.</summary>
    private static double[] PixelCosines(FacePairInput[] rows)
    {
        var cache = new Dictionary<string, float[]>();
        float[] T(string path) => cache.TryGetValue(path, out var t) ? t : cache[path] = FaceTensor.ToChw(ImageIO.Load(path));
        return rows.Select(r =>
        {
            var (a, b) = (T(r.ImagePath1), T(r.ImagePath2));
            double ab = 0, aa = 0, bb = 0;
            for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
            return ab / Math.Sqrt(aa * bb);
        }).ToArray();
    }

    private sealed class EvaluationRow
    {
        public bool Label { get; set; }
        public float Score { get; set; }
        public float Cosine { get; set; }
        public bool PredictedLabel { get; set; }
        public float Margin { get; set; }
    }
}
