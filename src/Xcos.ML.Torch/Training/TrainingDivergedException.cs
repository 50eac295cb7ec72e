using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Training;

/// <summary>The loss became NaN or infinite; training stopped before the update, the last good checkpoint is kept.</summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    /// <summary>The message names the epoch, step, loss and the checkpoint to resume from.</summary>
    public TrainingDivergedException(int epoch, long globalStep, double loss, string? lastGoodCheckpoint)
        : base($"training diverged: loss is {loss} at epoch {epoch}, step {globalStep}; no update was applied. " +
               (lastGoodCheckpoint is null ? "No checkpoint had been written yet." : $"The last good checkpoint is {lastGoodCheckpoint}.") +
               " Lower the learning rates or check the data.")
    {
        Epoch = epoch; GlobalStep = globalStep; Loss = loss; LastGoodCheckpoint = lastGoodCheckpoint;
    }

    /// <summary>Epoch (1-based) of the failing step.</summary>
    public int Epoch { get; }
    /// <summary>Global step of the failing step.</summary>
    public long GlobalStep { get; }
    /// <summary>The loss that was NaN or infinite.</summary>
    public double Loss { get; }
    /// <summary>The checkpoint that is still valid, or null.</summary>
    public string? LastGoodCheckpoint { get; }
}
