using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Metrics;

namespace Xcos.ML.MLNet;

/// <summary>Face verification figures of a scored <see cref="IDataView"/> (e.g. the output of <c>ScoreXcosPairs</c>).</summary>
public static class VerificationEvaluation
{
    /// <summary>
    /// The verification report of the pairs in <paramref name="data"/>: the k-fold protocol's accuracy (10 folds by default),
    /// ROC AUC, EER, TAR at FAR and the best threshold, from a Boolean label column and a Single (or Double) score column.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type (the message names it).</exception>
    /// <exception cref="ArgumentException">Fewer pairs than folds, only one class, or a NaN score.</exception>
    public static VerificationReport EvaluateVerification(this MLContext mlContext, IDataView data,
        string labelColumnName = "Label", string scoreColumnName = "Score", VerificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return Evaluate(data, labelColumnName, scoreColumnName, options);
    }

    /// <inheritdoc cref="EvaluateVerification(MLContext, IDataView, string, string, VerificationOptions?)"/>
    public static VerificationReport EvaluateVerification(this BinaryClassificationCatalog catalog, IDataView data,
        string labelColumnName = "Label", string scoreColumnName = "Score", VerificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return Evaluate(data, labelColumnName, scoreColumnName, options);
    }

    private static VerificationReport Evaluate(IDataView data, string label, string score, VerificationOptions? options)
    {
        ArgumentNullException.ThrowIfNull(data);
        XcosPipelineColumns.CheckScalar(data.Schema, "Label", label, BooleanDataViewType.Instance);
        var scoreCol = data.Schema.GetColumnOrNull(score)
            ?? throw new ArgumentOutOfRangeException(nameof(data), $"Score column '{score}' not found; expected a scalar Single or Double");
        var same = data.GetColumn<bool>(label).ToArray();
        if (scoreCol.Type == NumberDataViewType.Single)
            return VerificationMetrics.Evaluate(data.GetColumn<float>(score).ToArray(), same, options);
        if (scoreCol.Type == NumberDataViewType.Double)
            return VerificationMetrics.Evaluate(data.GetColumn<double>(score).ToArray(), same, options);
        throw new ArgumentOutOfRangeException(nameof(data), $"Score column '{score}' has type {scoreCol.Type}; expected a scalar Single or Double");
    }
}
