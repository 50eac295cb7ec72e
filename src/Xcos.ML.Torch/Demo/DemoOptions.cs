using Xcos.ML.Metrics;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// Settings of <see cref="DemoRunner"/>: the end-to-end run on synthetic identities (generate, train from scratch,
/// evaluate on held-out identities, explain, report, save and reload the ML.NET pipeline). Defaults fit in about five
/// minutes on two cores.
/// </summary>
public sealed record DemoOptions
{
    /// <summary>Output folder (data, training checkpoints, figures, report, model .zip). Required.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>
    /// Wall-clock budget of the whole run in minutes. Training stops early (after the current step) when continuing
    /// would leave less than <see cref="ReserveFraction"/> of it for evaluation. Default 5.
    /// </summary>
    public double MinutesBudget { get; init; } = 5;

    /// <summary>
    /// Share of <see cref="MinutesBudget"/> kept for everything after training. Default 0.2. When the measured training
    /// speed says scoring the held-out pairs three times (fit, evaluate, reload) needs longer, that estimate is kept instead.
    /// </summary>
    public double ReserveFraction { get; init; } = 0.2;

    /// <summary>Seed of the synthetic identities, of weight initialisation and of sampling. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Intra-op threads of libtorch; null uses all cores. Default null.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Identities generated (training and held-out together). Default 250: with a fixed time budget many identities of
    /// few images each generalise better to unseen identities than few identities of many images.
    /// </summary>
    public int Identities { get; init; } = 250;

    /// <summary>Images per identity. Default 8.</summary>
    public int ImagesPerIdentity { get; init; } = 8;

    /// <summary>Fraction of identities held out (never trained on) for evaluation. Default 0.1 (25 of 250).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Verification pairs over the held-out identities, half same, half different. Default 400.</summary>
    public int ValidationPairs { get; init; } = 400;

    /// <summary>
    /// Trainer settings; <see cref="Seed"/> and <see cref="Threads"/> override theirs. Default <see cref="DemoRunner.DefaultTrainer"/>:
    /// MobileFaceNet, which ONNX export supports (the ML.NET pipeline runs the trained weights through ONNX Runtime).
    /// </summary>
    public XcosTrainerOptions Trainer { get; init; } = DemoRunner.DefaultTrainer;

    /// <summary>Pairs drawn as explanation figures (each as a panel figure and an overlay). Default 4.</summary>
    public int Figures { get; init; } = 4;

    /// <summary>Verification protocol of the evaluation. Default 10 folds.</summary>
    public VerificationOptions Verification { get; init; } = new();

    /// <summary>
    /// Also explain synthetic photos with the real face models when they are present
    /// (<see cref="Xcos.ML.FaceModels.ModelStore.IsComplete"/>). Default true.
    /// </summary>
    public bool RealFaces { get; init; } = true;

    /// <summary>Folder of the real face models; null resolves XCOS_MODELS, then the user's data folder. Default null.</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the option that is out of range.</summary>
    public void Validate()
    {
        void Need(bool ok, string name, object? value, string what) { if (!ok) throw new ArgumentException($"demo option {name} = {value}: {what}."); }
        Need(!string.IsNullOrWhiteSpace(OutputDirectory), nameof(OutputDirectory), OutputDirectory, "is required");
        Need(MinutesBudget > 0 && double.IsFinite(MinutesBudget), nameof(MinutesBudget), MinutesBudget, "must be positive");
        Need(ReserveFraction is >= 0 and < 1, nameof(ReserveFraction), ReserveFraction, "must be in [0, 1)");
        Need(Identities >= 4, nameof(Identities), Identities, "must be at least 4 (two trained, two held out)");
        Need(ImagesPerIdentity >= 2, nameof(ImagesPerIdentity), ImagesPerIdentity, "must be at least 2");
        Need(ValidationPairs >= 2 * Verification.Folds, nameof(ValidationPairs), ValidationPairs, $"must be at least twice the {Verification.Folds} folds");
        Need(Figures >= 0, nameof(Figures), Figures, "must be >= 0");
        Need(Threads is null or >= 1, nameof(Threads), Threads, "must be positive");
        Need(Trainer.Mode == TrainingMode.Full, "Trainer.Mode", Trainer.Mode, "the demo trains from scratch (Full)");
    }
}

/// <summary>Stages of a demo run, in order.</summary>
public enum DemoStage
{
    /// <summary>Writing the synthetic identities.</summary>
    Generating,
    /// <summary>Training xCos from scratch.</summary>
    Training,
    /// <summary>Fitting and running the ML.NET pipeline over the held-out pairs.</summary>
    Scoring,
    /// <summary>Explanation figures and the HTML report.</summary>
    Explaining,
    /// <summary>Saving the ML.NET pipeline and scoring again with the reloaded .zip.</summary>
    Reloading,
    /// <summary>Explaining synthetic photos with the real face models.</summary>
    RealFaces,
}

/// <summary>A progress report of a demo run.</summary>
/// <param name="Stage">The stage.</param>
/// <param name="Done">Items done in the stage (images, steps, pairs).</param>
/// <param name="Total">Items of the stage.</param>
/// <param name="Detail">A short line (e.g. epoch and loss).</param>
public sealed record DemoProgress(DemoStage Stage, int Done, int Total, string Detail);

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

/// <summary>One synthetic photo pair run through the real face models.</summary>
/// <param name="Photo1">First photo (PNG written by the demo).</param>
/// <param name="Photo2">Second photo.</param>
/// <param name="SameIdentity">Whether the generator drew both from one identity.</param>
/// <param name="Verification">The verification core's result (statuses, faces found, cosine, xCos, maps).</param>
/// <param name="Figure">Explanation figure, or null when a photo had no usable face.</param>
public sealed record DemoRealPair(string Photo1, string Photo2, bool SameIdentity, Xcos.ML.Verification.FacePairVerification Verification, string? Figure);

/// <summary>What the real-face part of the demo did.</summary>
/// <param name="ModelsDirectory">Where the models were looked for.</param>
/// <param name="Ran">False when the models are not there (then <paramref name="Note"/> says how to fetch them).</param>
/// <param name="Note">A sentence for the user.</param>
/// <param name="Pairs">The pairs explained.</param>
public sealed record DemoRealFaces(string ModelsDirectory, bool Ran, string Note, IReadOnlyList<DemoRealPair> Pairs);

/// <summary>Where <see cref="DemoRunner.Run"/> wrote its outputs, and the accuracies it printed.</summary>
/// <param name="OutputDirectory">The output folder.</param>
/// <param name="ReportPath">index.html of the evaluation report.</param>
/// <param name="ModelZipPath">The saved ML.NET pipeline.</param>
/// <param name="WeightsPath">The trained weights (PyTorch <c>{'state_dict': ...}</c>).</param>
/// <param name="Figures">Explanation figures written (panel and overlay per pair).</param>
/// <param name="TrainIdentities">Identities trained on.</param>
/// <param name="HeldOutIdentities">Identities evaluated on (never trained on).</param>
/// <param name="Pairs">Held-out pairs scored.</param>
/// <param name="Architecture">The trained backbone.</param>
/// <param name="Epochs">Epochs completed (a partial last epoch counts as its steps in <paramref name="Steps"/>).</param>
/// <param name="Steps">Training steps done.</param>
/// <param name="StoppedByBudget">True when the time budget ended training before the configured epochs.</param>
/// <param name="Xcos">xCos on the held-out pairs (k-fold protocol).</param>
/// <param name="Cosine">Plain cosine of the flattened grid embeddings.</param>
/// <param name="PixelCosine">Cosine of the raw normalised pixels (the baseline a model has to beat).</param>
/// <param name="MlNet">ML.NET's EvaluateNonCalibrated of the fitted pipeline.</param>
/// <param name="ReloadedPairs">Pairs scored again with the reloaded .zip.</param>
/// <param name="ReloadMaxDifference">Largest |score difference| between the fitted and the reloaded pipeline (0 when identical).</param>
/// <param name="RealFaces">The real-face part.</param>
/// <param name="StageSeconds">Wall time per stage.</param>
/// <param name="TotalSeconds">Wall time of the run.</param>
public sealed record DemoResult(string OutputDirectory, string ReportPath, string ModelZipPath, string WeightsPath, IReadOnlyList<string> Figures,
    int TrainIdentities, int HeldOutIdentities, int Pairs, string Architecture, int Epochs, long Steps, bool StoppedByBudget,
    DemoScore Xcos, DemoScore Cosine, DemoScore PixelCosine, DemoMlNetMetrics MlNet, int ReloadedPairs, double ReloadMaxDifference,
    DemoRealFaces RealFaces, IReadOnlyDictionary<DemoStage, double> StageSeconds, double TotalSeconds);
