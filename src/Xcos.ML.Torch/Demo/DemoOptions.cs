using Xcos.ML.Metrics;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// Settings of <see cref="DemoRunner"/>. By default the run evaluates the shipped checkpoint (<c>data/demo/xcos_demo.pth</c>)
/// on its held-out synthetic identities, explains, reports, and saves and reloads the ML.NET pipeline; with
/// <see cref="Train"/> it first trains a checkpoint from scratch for the recipe's fixed number of steps.
/// </summary>
public sealed record DemoOptions
{
    /// <summary>Output folder (data, figures, report, model .zip; with <see cref="Train"/> also training/ and checkpoint/). Required.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Train a checkpoint from scratch (<see cref="Trainer"/>, <see cref="Data"/>) instead of evaluating one. Default false.</summary>
    public bool Train { get; init; }

    /// <summary>
    /// Without <see cref="Train"/>: the checkpoint to evaluate, with its record (<see cref="DemoCheckpointRecord"/>, the
    /// same name with <c>.json</c>) next to it. Default null: the shipped one (<see cref="DemoCheckpointRecord.ShippedCheckpoint"/>).
    /// </summary>
    public string? Checkpoint { get; init; }

    /// <summary>With <see cref="Train"/>: seed of the data, weight initialisation and sampling; null takes the recipe's. Default null.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Threads of libtorch and ONNX Runtime; null takes the recipe's for training (1: the order of floating-point sums
    /// depends on the thread count, so the recipe fixes it) and all cores for scoring. Default null.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>With <see cref="Train"/>: the synthetic identities. Without, the checkpoint's record says which were used.</summary>
    public DemoDataRecipe Data { get; init; } = new();

    /// <summary>
    /// With <see cref="Train"/>: the training recipe; its <see cref="XcosTrainerOptions.Epochs"/> fixes the number of steps.
    /// Default <see cref="DemoRunner.DefaultTrainer"/> (<c>configs/demo_train_config.json</c>): MobileFaceNet, which ONNX
    /// export supports (the ML.NET pipeline runs the trained weights through ONNX Runtime).
    /// </summary>
    public XcosTrainerOptions Trainer { get; init; } = DemoRunner.DefaultTrainer;

    /// <summary>Pairs drawn as explanation figures (each as a panel figure and an overlay). Default 4.</summary>
    public int Figures { get; init; } = 4;

    /// <summary>Verification protocol of the evaluation. Default 10 folds.</summary>
    public VerificationOptions Verification { get; init; } = new();

    /// <summary>Also verify labelled real photos with the real face models when both are present. Default true.</summary>
    public bool RealFaces { get; init; } = true;

    /// <summary>Folder of the real face models; null resolves XCOS_MODELS, then the user's data folder. Default null.</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>
    /// Folder of labelled real photos (with <c>pairs.tsv</c>: file1, file2, same); null looks in XCOS_PHOTOS and for
    /// <c>../shared/dev-faces</c>. Default null.
    /// </summary>
    public string? PhotosDirectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the option that is out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw Bad(nameof(OutputDirectory), OutputDirectory, "is required");
        if (Figures < 0) throw Bad(nameof(Figures), Figures, "must be >= 0");
        if (Threads is < 1) throw Bad(nameof(Threads), Threads, "must be positive");
        if (Train && Checkpoint is not null) throw Bad(nameof(Checkpoint), Checkpoint, "is what the demo evaluates without Train; training makes its own");
        if (!Train && Seed is not null) throw Bad(nameof(Seed), Seed, "applies to training only (a checkpoint's record fixes its data)");
        if (Train)
        {
            if (Trainer.Mode != TrainingMode.Full) throw Bad("Trainer.Mode", Trainer.Mode, "the demo trains from scratch (Full)");
            Data.Validate(Verification.Folds);
        }
    }

    private static ArgumentException Bad(string name, object? value, string what) => new($"demo option {name} = {value}: {what}.");
}
