using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Training;

/// <summary>Summary of one epoch.</summary>
/// <param name="Epoch">Epoch, 1-based.</param>
/// <param name="GlobalStep">Training steps done after this epoch.</param>
/// <param name="Loss">Mean total loss.</param>
/// <param name="ClassificationLoss">Mean cross-entropy (sum over both images; 0 in head mode).</param>
/// <param name="XcosLoss">Mean MSE of xCos against the target cosine.</param>
/// <param name="LearningRates">Rate of each optimiser during the epoch, by module name.</param>
/// <param name="Validation">One entry per validation pair set.</param>
/// <param name="Seconds">Wall time of the epoch, validation included.</param>
/// <param name="PairsPerSecond">Training throughput.</param>
/// <param name="IsBest">Whether this epoch became the best checkpoint.</param>
public sealed record EpochResult(int Epoch, long GlobalStep, double Loss, double ClassificationLoss, double XcosLoss,
    IReadOnlyDictionary<string, double> LearningRates, IReadOnlyList<ValidationResult> Validation,
    double Seconds, double PairsPerSecond, bool IsBest);
