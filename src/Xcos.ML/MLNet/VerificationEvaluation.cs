using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Metrics;

namespace Xcos.ML.MLNet;

/// <summary>
/// Face verification figures of a scored <see cref="IDataView"/> (e.g. the output of <c>ScoreXcosPairs</c>); called as
/// <c>mlContext.EvaluateVerification</c> or <c>mlContext.BinaryClassification.EvaluateVerification</c> (<see cref="XcosCatalog"/>).
/// </summary>
internal static class VerificationEvaluation
{
    internal static VerificationReport Evaluate(IDataView data, string label, string score, VerificationOptions? options)
    {
        ArgumentNullException.ThrowIfNull(data);
        XcosPipelineColumns.CheckScalar(data.Schema, "Label", label, BooleanDataViewType.Instance);
        var scoreCol = data.Schema.GetColumnOrNull(score)
            ?? throw new ArgumentOutOfRangeException(nameof(data), $"Score column '{score}' not found; expected a scalar Single or Double");
        var same = data.GetColumn<bool>(label).ToArray();
        double[] scores = scoreCol.Type == NumberDataViewType.Single ? data.GetColumn<float>(score).Select(v => (double)v).ToArray()
            : scoreCol.Type == NumberDataViewType.Double ? data.GetColumn<double>(score).ToArray()
            : throw new ArgumentOutOfRangeException(nameof(data), $"Score column '{score}' has type {scoreCol.Type}; expected a scalar Single or Double");
        // Rows that could not be scored (NaN, as the pipelines give a pair whose faces are not both ok) are left out and listed.
        var status = data.Schema.GetColumnOrNull("Status") is { Type: TextDataViewType } ? data.GetColumn<string>("Status").ToArray() : null;
        var keep = Enumerable.Range(0, scores.Length).Where(i => double.IsFinite(scores[i])).ToArray();
        var skipped = Enumerable.Range(0, scores.Length).Where(i => !double.IsFinite(scores[i]))
            .Select(i => new SkippedPair(i, status is not null && status[i] != "ok" ? status[i] : $"score is {scores[i]}")).ToList();
        var kept = keep.Select(i => same[i]).ToArray();
        // Single scores stay Single: the protocol compares them with float32 thresholds, as the reference does.
        var report = scoreCol.Type == NumberDataViewType.Single
            ? VerificationMetrics.Evaluate(keep.Select(i => (float)scores[i]).ToArray(), kept, options)
            : VerificationMetrics.Evaluate(keep.Select(i => scores[i]).ToArray(), kept, options);
        var source = data.Schema.GetColumnOrNull(DecisionStages.ThresholdSourceColumn) is { Type: TextDataViewType }
            ? data.GetColumn<string>(DecisionStages.ThresholdSourceColumn).FirstOrDefault() : null;
        return report with { Skipped = skipped, ThresholdSource = source };
    }
}
