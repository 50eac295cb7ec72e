using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>Losses of one training step, before the update.</summary>
/// <param name="Loss">Total loss.</param>
/// <param name="Ce">Classification (or other non-xCos) part, for the log's ce column.</param>
/// <param name="Mse">MSE of xCos to its target.</param>
/// <param name="Pairs">Pairs in the batch.</param>
internal readonly record struct StepLosses(double Loss, double Ce, double Mse, int Pairs);

/// <summary>
/// The epoch loop of the trainers that step over a known number of batches: per-epoch learning rates and seeding,
/// progress after every step, cancellation between steps (the interrupted epoch is checkpointed with its loss sums, so
/// a resume continues at the next step), validation, the CSV log row, the resumable checkpoint, <c>last.pth</c> and,
/// on a new best metric, <c>best.ckpt</c> / <c>best.pth</c>. The trainer supplies the step, the validation and the weights file.
/// </summary>
internal sealed class EpochLoop
{
    public required XcosTrainerOptions Options { get; init; }
    public required string OutputDirectory { get; init; }
    public required IReadOnlyDictionary<string, OptimizerHelper> Optimizers { get; init; }
    public required IReadOnlyDictionary<string, double> InitialRates { get; init; }
    public required IReadOnlyDictionary<string, nn.Module> Modules { get; init; }
    public required IEnumerable<string> ValidationNames { get; init; }
    /// <summary>Steps per epoch.</summary>
    public required int Steps { get; init; }
    /// <summary>Writes the weights-only file (last.pth) to the given path.</summary>
    public required Action<string> SaveWeights { get; init; }
    /// <summary>Selection metric of an epoch (higher is better); default <see cref="TrainerSupport.Metric"/>.</summary>
    public Func<double, IReadOnlyList<ValidationResult>, double>? Metric { get; init; }
    /// <summary>
    /// Called at the start of every epoch (after seeding) with the 0-based epoch and its first step (past 0 on a
    /// resume); what it returns (the epoch's batch reader, say) is disposed when the epoch's steps end: done,
    /// cancelled or failed.
    /// </summary>
    public Func<int, int, IDisposable?>? BeginEpoch { get; init; }
    /// <summary>Called after an epoch's row and checkpoints are written, before its end is reported.</summary>
    public Action<EpochResult>? EndEpoch { get; init; }
    /// <summary>False where the trainer has no classification loss: the log's ce column is then 0, not a mean.</summary>
    public bool HasClassificationLoss { get; init; } = true;

    /// <summary>Runs from <paramref name="state"/> to <c>Options.Epochs</c>; <paramref name="state"/> is updated as it goes.</summary>
    /// <param name="state">Position of the run; updated after every step.</param>
    /// <param name="step">One optimisation step (epoch 0-based, step in epoch, global step, last good checkpoint).</param>
    /// <param name="validate">Scores the validation sets after an epoch (1-based); an <see cref="OperationCanceledException"/>
    /// while <paramref name="cancellationToken"/> is set ends the run as a cancellation in that epoch.</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Stops after the current step.</param>
    public TrainingResult Run(Ref<TrainingState> state, Func<int, int, long, string?, StepLosses> step,
        Func<int, IReadOnlyList<ValidationResult>> validate, IProgress<TrainProgress>? progress, CancellationToken cancellationToken)
    {
        var o = Options;
        string last = Path.Combine(OutputDirectory, TrainingFiles.LastCheckpoint), best = Path.Combine(OutputDirectory, TrainingFiles.BestCheckpoint);
        string lastWeights = Path.Combine(OutputDirectory, TrainingFiles.LastWeights);
        TrainingFiles.RemoveStaleTemporaries(OutputDirectory);
        File.WriteAllText(Path.Combine(OutputDirectory, TrainingFiles.Options), o.ToJson());
        var log = new TrainingLog(Path.Combine(OutputDirectory, TrainingFiles.Log), Optimizers.Keys, ValidationNames);
        log.KeepEpochs(state.Value.CompletedEpochs);
        var history = new List<EpochResult>();
        string? lastGood = File.Exists(last) && state.Value.GlobalStep > 0 ? last : null;
        TrainingResult Result(bool cancelled) => new(state.Value.CompletedEpochs, state.Value.GlobalStep, cancelled, last, File.Exists(best) ? best : null, state.Value.BestMetric, history);

        for (int epoch = state.Value.CompletedEpochs; epoch < o.Epochs; epoch++)
        {
            var rates = InitialRates.ToDictionary(kv => kv.Key, kv => o.ScheduledRate(kv.Value, epoch));
            foreach (var (k, opt) in Optimizers) TrainerSupport.SetRate(opt, rates[k]);
            int s = state.Value.StepInEpoch;
            EpochSums sums;
            if (s == 0) { TrainerSupport.Seed(o.Seed, epoch); sums = new EpochSums(); }
            else sums = EpochSums.From(state.Value.EpochSums); // generator state came with the checkpoint
            var reader = BeginEpoch?.Invoke(epoch, s);
            var clock = Stopwatch.StartNew();
            long pairsBefore = sums.Pairs, global = state.Value.GlobalStep;
            bool cancelled = false;
            using (reader)
            {
                for (; s < Steps; s++)
                {
                    if (cancellationToken.IsCancellationRequested) { cancelled = true; break; }
                    var l = step(epoch, s, global, lastGood);
                    sums.Loss += l.Loss; sums.Ce += l.Ce; sums.Mse += l.Mse; sums.Steps++; sums.Pairs += l.Pairs;
                    global++;
                    state.Value = state.Value with { GlobalStep = global, StepInEpoch = s + 1 };
                    progress?.Report(new TrainProgress(TrainPhase.Training, epoch + 1, o.Epochs, s + 1, Steps, global,
                        sums.Mean(sums.Loss), (sums.Pairs - pairsBefore) / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
                }
            }
            if (cancelled || cancellationToken.IsCancellationRequested) return Interrupted(sums);
            double pps = (sums.Pairs - pairsBefore) / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
            IReadOnlyList<ValidationResult> validation;
            try { validation = validate(epoch + 1); }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // every step of the epoch is kept; a resume starts past the last step and validates this epoch again
                return Interrupted(sums);
            }
            double mean = sums.Mean(sums.Loss);
            double metric = Metric?.Invoke(mean, validation) ?? TrainerSupport.Metric(new EpochResultDraft(mean, validation));
            bool isBest = metric > state.Value.BestMetric || state.Value.BestEpoch == 0;
            state.Value = state.Value with
            {
                CompletedEpochs = epoch + 1,
                StepInEpoch = 0,
                EpochSums = [],
                BestMetric = isBest ? metric : state.Value.BestMetric,
                BestEpoch = isBest ? epoch + 1 : state.Value.BestEpoch,
            };
            var result = new EpochResult(epoch + 1, global, mean, HasClassificationLoss ? sums.Mean(sums.Ce) : 0, sums.Mean(sums.Mse), rates, validation, clock.Elapsed.TotalSeconds, pps, isBest);
            history.Add(result);
            // the row goes first: a kill before the checkpoint's rename leaves a row the next start drops
            log.Append(result);
            TrainingCheckpoint.Write(last, state.Value, o, Modules, Optimizers);
            SaveWeights(lastWeights);
            lastGood = last;
            if (isBest)
            {
                XcosTrainer.CopyAtomic(last, best);
                XcosTrainer.CopyAtomic(lastWeights, Path.Combine(OutputDirectory, TrainingFiles.BestWeights));
            }
            EndEpoch?.Invoke(result);
            progress?.Report(new TrainProgress(TrainPhase.EpochEnd, epoch + 1, o.Epochs, Steps, Steps, global, mean, pps, result));
        }
        return Result(false);

        // A checkpoint of the last completed step, for a run stopped by a token (Ctrl-C, SIGTERM).
        TrainingResult Interrupted(EpochSums sums)
        {
            state.Value = state.Value with { EpochSums = sums.ToArray() };
            TrainingCheckpoint.Write(last, state.Value, o, Modules, Optimizers);
            SaveWeights(lastWeights);
            return Result(true);
        }
    }
}

/// <summary>A mutable box, so the loop and its trainer share one position.</summary>
internal sealed class Ref<T>(T value)
{
    public T Value { get; set; } = value;
}
