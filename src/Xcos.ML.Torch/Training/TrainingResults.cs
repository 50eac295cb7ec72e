using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Training;

/// <summary>What a trainer is doing when it reports progress.</summary>
public enum TrainPhase
{
    /// <summary>Computing the frozen model's feature maps (head mode).</summary>
    Caching,
    /// <summary>Training steps.</summary>
    Training,
    /// <summary>Scoring the validation pair sets.</summary>
    Validating,
    /// <summary>An epoch finished (validation done, checkpoint written).</summary>
    EpochEnd,
}

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

/// <summary>Scores of one validation pair set with the 10-fold protocol.</summary>
/// <param name="Name">Pair-set name (file name without extension).</param>
/// <param name="Pairs">Pairs scored.</param>
/// <param name="SkippedPairs">Pairs left out because an image could not be read.</param>
/// <param name="UnreadableImages">Distinct images that could not be read (each named in <paramref name="Errors"/>, first 10).</param>
/// <param name="Xcos">Metrics of the xCos score.</param>
/// <param name="Cosine">Metrics of the plain cosine: full mode, of the flattened grid embeddings; head mode, of the frozen model's embeddings.</param>
/// <param name="Errors">Up to 10 read errors.</param>
public sealed record ValidationResult(string Name, int Pairs, int SkippedPairs, int UnreadableImages,
    VerificationReport Xcos, VerificationReport Cosine, IReadOnlyList<string> Errors);

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
