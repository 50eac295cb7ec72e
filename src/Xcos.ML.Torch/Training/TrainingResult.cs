using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Training;

/// <summary>Outcome of a training run.</summary>
/// <param name="CompletedEpochs">Epochs fully done (resumed ones included).</param>
/// <param name="GlobalStep">Training steps done.</param>
/// <param name="Cancelled">True when the run stopped on cancellation (a checkpoint of the interrupted epoch was written).</param>
/// <param name="LastCheckpoint">Path of the resumable checkpoint of the last state.</param>
/// <param name="BestCheckpoint">Path of the best checkpoint, or null when none was written.</param>
/// <param name="BestMetric">Selection metric of the best epoch (validation xCos accuracy, or minus the training loss without validation).</param>
/// <param name="Epochs">The epochs trained in this run.</param>
public sealed record TrainingResult(int CompletedEpochs, long GlobalStep, bool Cancelled, string LastCheckpoint,
    string? BestCheckpoint, double BestMetric, IReadOnlyList<EpochResult> Epochs);
