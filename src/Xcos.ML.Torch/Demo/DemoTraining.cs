using System.Diagnostics;
using System.Globalization;
using Xcos.ML.Data;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// <c>xcos demo --train</c>'s training step: the recipe's fixed number of epochs over the training identities, from
/// scratch, with progress and an estimate of the time left; the result does not depend on how fast the machine is.
/// </summary>
internal static class DemoTraining
{
    /// <summary>What training produced.</summary>
    /// <param name="Checkpoint">The trained weights (PyTorch <c>{'state_dict': ...}</c>), copied out of the run folder.</param>
    /// <param name="Epochs">Epochs trained.</param>
    /// <param name="Steps">Steps trained.</param>
    /// <param name="Seconds">Wall time of training.</param>
    public sealed record Outcome(string Checkpoint, int Epochs, long Steps, double Seconds);

    /// <summary>Trains and copies the final weights to <paramref name="checkpoint"/>.</summary>
    /// <param name="options">The recipe (Mode Full; <see cref="XcosTrainerOptions.Epochs"/> fixes the steps).</param>
    /// <param name="trainFolder">Image folder of the training identities.</param>
    /// <param name="runDirectory">The trainer's folder (resumable checkpoints, log, TensorBoard files).</param>
    /// <param name="checkpoint">Where the final weights go.</param>
    /// <param name="progress">Receives one report per step.</param>
    /// <param name="ct">Stops after the current step; throws <see cref="OperationCanceledException"/>.</param>
    public static Outcome Run(XcosTrainerOptions options, string trainFolder, string runDirectory, string checkpoint,
        Action<DemoProgress> progress, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        using var trainer = new XcosTrainer(options, ImageFolder.Load(trainFolder), null, runDirectory);
        int total = trainer.StepsPerEpoch * options.Epochs;
        var result = trainer.Train(new Reporter(p =>
        {
            if (p.Phase == TrainPhase.Training)
                progress(new DemoProgress(DemoStage.Training, (int)p.GlobalStep, total, Detail(p, total, clock.Elapsed)));
        }), ct);
        ct.ThrowIfCancellationRequested();
        if (result.Cancelled || result.GlobalStep != total)
            throw new InvalidOperationException($"training stopped after {result.GlobalStep} of {total} steps");
        string weights = Path.Combine(runDirectory, TrainingFiles.LastWeights);
        string temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, $".{Path.GetFileName(checkpoint)}.{Guid.NewGuid():N}.tmp");
        File.Copy(weights, temp);
        File.Move(temp, checkpoint, overwrite: true);
        return new Outcome(checkpoint, result.CompletedEpochs, result.GlobalStep, clock.Elapsed.TotalSeconds);
    }

    /// <summary>"step 40/168 (epoch 1/3), loss 12.345, 5.1 pairs/s, 9:12 left".</summary>
    internal static string Detail(TrainProgress p, int total, TimeSpan elapsed)
    {
        long done = p.GlobalStep;
        var left = done == 0 ? TimeSpan.Zero : elapsed / done * (total - done);
        return string.Create(CultureInfo.InvariantCulture,
            $"step {done}/{total} (epoch {p.Epoch}/{p.Epochs}), loss {p.Loss:F3}, {p.PairsPerSecond:F1} pairs/s, {Clock(left)} left");
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}")
        : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:D2}");

    private sealed class Reporter(Action<TrainProgress> report) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => report(value);
    }
}
