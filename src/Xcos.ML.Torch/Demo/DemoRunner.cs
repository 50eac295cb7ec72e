using System.Diagnostics;
using System.Globalization;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The end-to-end demo, with nothing to download. By default it evaluates the shipped checkpoint, a MobileFaceNet xCos
/// trained by this project on synthetic identities (<c>data/demo/xcos_demo.pth</c>): it writes the held-out identities
/// the checkpoint was measured on, fits the ML.NET pipeline (<c>VerifyFacePairs</c>) over its weights on their pairs
/// (threshold from the labels), evaluates xCos, the plain cosine and the pixel cosine with the k-fold protocol and
/// ML.NET's <c>EvaluateNonCalibrated</c>, draws explanation figures, writes the HTML report, saves the pipeline as a
/// .zip and checks that the reloaded .zip scores the same. The figures equal those recorded with the checkpoint on any
/// machine. With <see cref="DemoOptions.Train"/> it first trains a new checkpoint from scratch for the recipe's fixed
/// number of steps. When the real face models and labelled real photos are present it also verifies real photos.
/// </summary>
/// <remarks>
/// Output layout under <see cref="DemoOptions.OutputDirectory"/>: <c>data/</c> (the image folder), <c>figures/</c>,
/// <c>report/index.html</c>, <c>xcos_pipeline.zip</c>, <c>real/</c>; after training also <c>training/</c> (checkpoints,
/// log) and <c>checkpoint/</c> (<c>xcos_demo.pth</c>, its record <c>xcos_demo.json</c>, <c>val_pairs.tsv</c>: the layout
/// of <c>data/demo</c>).
/// </remarks>
public sealed class DemoRunner
{
    /// <summary>The recipe of the shipped checkpoint, a file of <c>configs/</c>.</summary>
    public const string RecipeFile = "demo_train_config.json";

    /// <summary>
    /// The demo's training recipe (<c>configs/demo_train_config.json</c>): MobileFaceNet grid backbone (about 7x faster
    /// per step than IR [1,1,1,1] on two cores, and exported to ONNX like IR), CosFace, SGD lr 0.05 (momentum 0.9, weight
    /// decay 5e-4) for backbone and head, Adam (AMSGrad) lr 1e-3 for the attention, learning rate x0.85 every epoch,
    /// batches of 32 pairs, a fixed number of epochs (2), seed 0 and one thread (no floating-point sum then depends on how
    /// work is split between threads, and a busy machine slows one thread less than two that wait for each other).
    /// </summary>
    public static XcosTrainerOptions DefaultTrainer { get; } = Config.OriginalConfig.Recipe(RecipeFile).Trainer;

    /// <summary>Creates a runner; nothing runs until <see cref="Run"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public DemoRunner(DemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>What to run.</summary>
    public DemoOptions Options { get; }

    /// <summary>Runs every stage and returns where the outputs are and the headline numbers.</summary>
    /// <param name="progress">Receives stage progress (from the running thread and, while generating, from worker threads).</param>
    /// <param name="cancellationToken">Stops the run (training stops after its current step); throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="FileNotFoundException">The checkpoint to evaluate or its record is missing, or a given photo folder has no pairs.tsv.</exception>
    /// <exception cref="InvalidDataException">The record does not fit the checkpoint, or the held-out images differ from those it was measured on.</exception>
    /// <exception cref="InvalidOperationException">The reloaded pipeline scored differently from the fitted one.</exception>
    public DemoResult Run(IProgress<DemoProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var stages = new DemoStages(progress, cancellationToken);
        var paths = new Paths(Path.GetFullPath(Options.OutputDirectory));
        // bad input (a photo folder without pairs.tsv, a checkpoint without its record) fails before anything is written
        string? photos = Options.RealFaces ? DemoRealPhotos.FindPhotoSet(Options.PhotosDirectory) : null;
        var plan = Options.Train ? PlanTraining() : PlanEvaluation();
        Directory.CreateDirectory(paths.Root);
        var data = stages.Run(DemoStage.Generating, report => DemoData.Write(paths.Data, plan.Data, Options.Train, Options.Threads,
            (n, total) => report(n, total, "synthetic identities"), cancellationToken));
        if (plan.Recorded is { } shipped && !Options.Train) CheckHeldOut(shipped, plan.Checkpoint, data);
        var training = Options.Train ? stages.Run(DemoStage.Training, _ => Train(plan, data, paths, stages)) : null;

        using var evaluation = stages.Run(DemoStage.Scoring, report => DemoEvaluation.Run(
            TorchOnnxExport.LoadCheckpointWeights(plan.Checkpoint), data.Rows, Options.Verification, plan.Data.Seed, report, cancellationToken));
        var record = training is null ? plan.Recorded! : WriteRecord(plan, data, evaluation, training);

        var (figures, report) = stages.Run(DemoStage.Explaining, p => DemoExplanations.Write(data, evaluation, Options.Figures,
            paths.Figures, paths.Report, Title, Description(record, data, evaluation), Options.Verification, p));
        double reload = stages.Run(DemoStage.Reloading, p => DemoReload.Check(evaluation, data.Rows, paths.ModelZip, plan.Data.Seed,
            (n, total) => p(n, total, "scoring with the reloaded .zip"), cancellationToken));
        var real = stages.Run(DemoStage.RealFaces, p => DemoRealPhotos.Run(Options, photos, paths.Root, p, cancellationToken));

        return new DemoResult(paths.Root, report, paths.ModelZip, plan.Checkpoint, Options.Train, training?.Seconds ?? 0, figures,
            record, plan.Recorded, DemoScore.From("xCos", evaluation.Xcos), DemoScore.From("cosine", evaluation.Cosine),
            DemoScore.From("pixel cosine", evaluation.PixelCosine), MaxDifference(plan.Recorded, evaluation), evaluation.MlNet,
            data.Rows.Length, reload, real, stages.Seconds, clock.Elapsed.TotalSeconds);
    }

    /// <summary>What a run evaluates: a checkpoint (existing, or to be trained to this path), its data, and the record to compare with.</summary>
    private sealed record Plan(string Checkpoint, DemoDataRecipe Data, XcosTrainerOptions Trainer, int Threads, DemoCheckpointRecord? Recorded);

    /// <summary>The output folder's layout.</summary>
    private sealed record Paths(string Root)
    {
        public string Data => Path.Combine(Root, "data");
        public string Training => Path.Combine(Root, "training");
        public string CheckpointDirectory => Path.Combine(Root, "checkpoint");
        public string Figures => Path.Combine(Root, "figures");
        public string Report => Path.Combine(Root, "report");
        public string ModelZip => Path.Combine(Root, "xcos_pipeline.zip");
    }

    private const string Title = "xCos demo: held-out synthetic identities";

    // Without training: the checkpoint and its record fix the data.
    private Plan PlanEvaluation()
    {
        string checkpoint = Path.GetFullPath(Options.Checkpoint ?? DemoCheckpointRecord.ShippedCheckpoint);
        var record = DemoCheckpointRecord.ReadFor(checkpoint);
        return new Plan(checkpoint, record.Data, DefaultTrainer, record.Threads, record);
    }

    // Training: the recipe with the run's seed and threads; the shipped record is compared only when made the same way.
    private Plan PlanTraining()
    {
        int seed = Options.Seed ?? Options.Trainer.Seed;
        int threads = Options.Threads ?? Options.Trainer.Threads ?? Environment.ProcessorCount;
        var trainer = Options.Trainer with { Seed = seed, Threads = threads };
        var data = Options.Data with { Seed = seed };
        string checkpoint = Path.Combine(Path.GetFullPath(Options.OutputDirectory), "checkpoint", DemoCheckpointRecord.CheckpointFileName);
        DemoCheckpointRecord? shipped = null;
        try { shipped = DemoCheckpointRecord.ReadFor(DemoCheckpointRecord.ShippedCheckpoint); }
        catch (Exception e) when (e is IOException or InvalidDataException) { }
        bool sameWay = shipped is not null && shipped.Data == data && shipped.Recipe == RecipePath
            && (DefaultTrainer with { Seed = shipped.Seed, Threads = shipped.Threads }).ToJson() == trainer.ToJson();
        return new Plan(checkpoint, data, trainer, threads, sameWay ? shipped : null);
    }

    private static string RecipePath => "configs/" + RecipeFile;

    private static void CheckHeldOut(DemoCheckpointRecord record, string checkpoint, DemoData data)
    {
        string recordPath = DemoCheckpointRecord.PathFor(checkpoint);
        string pairs = Path.Combine(Path.GetDirectoryName(checkpoint)!, record.ValidationPairs);
        if (File.Exists(pairs) && !File.ReadAllBytes(pairs).AsSpan().SequenceEqual(File.ReadAllBytes(data.PairsPath)))
            throw new InvalidDataException($"{pairs}: the pairs the checkpoint was measured on differ from those generated from {recordPath}'s data settings ({data.PairsPath}); the generator has changed: retrain (scripts/demo/train-checkpoint.sh)");
        if (!string.Equals(record.ValidationSha256, data.ValidationDigest, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{recordPath}: the held-out images generated here (SHA-256 {data.ValidationDigest}) differ from those the checkpoint was measured on ({record.ValidationSha256}); the synthetic-face generator has changed: retrain (scripts/demo/train-checkpoint.sh)");
    }

    private static DemoTraining.Outcome Train(Plan plan, DemoData data, Paths paths, DemoStages stages)
    {
        Directory.CreateDirectory(paths.CheckpointDirectory);
        return DemoTraining.Run(plan.Trainer, data.TrainDirectory, paths.Training, plan.Checkpoint, stages.Report, stages.Token);
    }

    // The new checkpoint's record, and its pair list beside it: the layout of data/demo.
    private static DemoCheckpointRecord WriteRecord(Plan plan, DemoData data, DemoEvaluation evaluation, DemoTraining.Outcome training)
    {
        var t = plan.Trainer;
        bool recipe = (DefaultTrainer with { Seed = t.Seed, Threads = t.Threads }).ToJson() == t.ToJson();
        var record = new DemoCheckpointRecord
        {
            Checkpoint = Path.GetFileName(plan.Checkpoint),
            CheckpointSha256 = DemoCheckpointRecord.Sha256(plan.Checkpoint),
            Recipe = recipe ? RecipePath : "custom trainer options (training/options.json of the run)",
            Architecture = Describe(t), Seed = t.Seed, Threads = plan.Threads, Epochs = training.Epochs, Steps = training.Steps, BatchSize = t.BatchSize,
            Data = plan.Data, TrainIdentities = data.Faces.TrainIdentities, HeldOutIdentities = data.Faces.ValidationIdentities,
            ValidationPairs = DemoCheckpointRecord.PairsFileName, ValidationSha256 = data.ValidationDigest,
            Xcos = DemoScore.From("xCos", evaluation.Xcos), Cosine = DemoScore.From("cosine", evaluation.Cosine),
            PixelCosine = DemoScore.From("pixel cosine", evaluation.PixelCosine), Threshold = evaluation.MlNet.Threshold,
            XcosScores = evaluation.Predictions.Select(p => p.Xcos).ToArray(), CosineScores = evaluation.Predictions.Select(p => p.Cosine).ToArray(),
            Command = Command(plan), TrainingSeconds = Math.Round(training.Seconds, 1),
        };
        File.Copy(data.PairsPath, Path.Combine(Path.GetDirectoryName(plan.Checkpoint)!, DemoCheckpointRecord.PairsFileName), overwrite: true);
        record.WriteFor(plan.Checkpoint);
        return record;
    }

    // The CLI line that repeats this training run.
    private static string Command(Plan plan)
    {
        var s = "xcos demo --train";
        if (plan.Trainer.Seed != DefaultTrainer.Seed) s += string.Create(CultureInfo.InvariantCulture, $" --seed {plan.Trainer.Seed}");
        if (plan.Threads != DefaultTrainer.Threads) s += string.Create(CultureInfo.InvariantCulture, $" --threads {plan.Threads}");
        if (plan.Data.Identities != new DemoDataRecipe().Identities) s += string.Create(CultureInfo.InvariantCulture, $" --identities {plan.Data.Identities}");
        return s;
    }

    private static string Description(DemoCheckpointRecord r, DemoData data, DemoEvaluation e) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Architecture} trained from scratch on {r.TrainIdentities} synthetic identities ({r.Steps} steps of {r.BatchSize} pairs, {r.Recipe}, seed {r.Seed}); " +
        $"{data.Rows.Length} pairs of {r.HeldOutIdentities} held-out identities, never trained on. Scores from the ML.NET pipeline (ONNX Runtime). " +
        $"Pixel-cosine baseline: accuracy {e.PixelCosine.AccuracyMean:F4}, AUC {e.PixelCosine.Auc:F4}.");

    private static double MaxDifference(DemoCheckpointRecord? recorded, DemoEvaluation e) => recorded is null ? double.NaN
        : e.Predictions.Select((p, i) => Math.Abs((double)p.Xcos - recorded.XcosScores[i])).DefaultIfEmpty(0).Max();

    // "mobilefacenet", or an IR net with its stage table ("ir[1,1,1,1]"; the preset depth when no table is given)
    private static string Describe(XcosTrainerOptions t) =>
        t.Stages is { } stages ? $"{t.Arch}[{string.Join(",", stages)}]"
        : t.Arch.StartsWith("mobilefacenet", StringComparison.Ordinal) || t.Arch.Any(char.IsDigit) ? t.Arch : $"{t.Arch}{t.Depth}";
}
