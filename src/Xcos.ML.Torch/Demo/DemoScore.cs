using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Demo;

/// <summary>Verification figures of one score on the held-out pairs.</summary>
/// <param name="Name">What was scored ("xCos", "cosine", "pixel cosine").</param>
/// <param name="Accuracy">Mean accuracy of the k-fold protocol.</param>
/// <param name="AccuracyStd">Its standard deviation over folds.</param>
/// <param name="Auc">ROC AUC.</param>
/// <param name="Eer">Equal error rate.</param>
public sealed record DemoScore(string Name, double Accuracy, double AccuracyStd, double Auc, double Eer)
{
    internal static DemoScore From(string name, VerificationReport r) => new(name, r.AccuracyMean, r.AccuracyStd, r.Auc, r.Eer);
}
