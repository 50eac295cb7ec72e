using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Training;

/// <summary>A progress report of a training run.</summary>
/// <param name="Phase">What is happening.</param>
/// <param name="Epoch">Current epoch, 1-based.</param>
/// <param name="Epochs">Total epochs.</param>
/// <param name="Step">Steps (or items in caching/validation) done in this phase.</param>
/// <param name="Steps">Steps (or items) of this phase.</param>
/// <param name="GlobalStep">Training steps done since the start of the run (resumed runs included).</param>
/// <param name="Loss">Mean total loss over the epoch so far (NaN before the first step).</param>
/// <param name="PairsPerSecond">Training throughput over the epoch so far.</param>
/// <param name="EpochResult">Set on <see cref="TrainPhase.EpochEnd"/>.</param>
public sealed record TrainProgress(TrainPhase Phase, int Epoch, int Epochs, int Step, int Steps, long GlobalStep,
    double Loss, double PairsPerSecond, EpochResult? EpochResult = null);
