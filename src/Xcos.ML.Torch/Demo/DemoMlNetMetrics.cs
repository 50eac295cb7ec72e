namespace Xcos.ML.Torch.Demo;

/// <summary>
/// ML.NET's own binary-classification metrics of the fitted pipeline (threshold chosen at Fit from the same labels).
/// EvaluateNonCalibrated counts a score above 0 as "same", so it is given the score minus the fitted threshold: its
/// accuracy is then that of the pipeline's PredictedLabel (checked to agree row by row).
/// </summary>
/// <param name="Accuracy">Accuracy of PredictedLabel.</param>
/// <param name="Auc">Area under the ROC curve of Score.</param>
/// <param name="F1">F1 score.</param>
/// <param name="Precision">Precision of "same".</param>
/// <param name="Recall">Recall of "same".</param>
/// <param name="Threshold">The fitted xCos threshold ("same" when the score is above it).</param>
public sealed record DemoMlNetMetrics(double Accuracy, double Auc, double F1, double Precision, double Recall, double Threshold);
