using Xcos.ML.Data;
using Xcos.ML.MLNet;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.MLNet;

/// <summary>What <see cref="XcosTrainingEmbeddingEstimator"/>'s Fit trains before it wraps the weights.</summary>
public enum XcosEmbeddingTraining
{
    /// <summary>No training: the model is the checkpoint at <see cref="XcosTrainingEmbeddingOptions.CheckpointPath"/>.</summary>
    None,
    /// <summary>Full xCos training from scratch (<see cref="XcosTrainer"/>): grid backbone, margin head and attention.</summary>
    Full,
    /// <summary>
    /// Head-only training (<see cref="XcosHeadTrainer"/>): the frozen model at <see cref="XcosTrainerOptions.TargetCheckpoint"/>
    /// keeps its weights; only the grid layer and the attention branch learn.
    /// </summary>
    HeadOnly,
}

/// <summary>
/// Options of <see cref="XcosTrainingEmbeddingEstimator"/> (<c>mlContext.Transforms.XcosEmbedding(XcosTrainingEmbeddingOptions)</c>):
/// the column names and runtime settings of <see cref="XcosEmbeddingOptions"/>, with the model taken from a PyTorch
/// checkpoint (<see cref="Training"/> = None) or trained with TorchSharp inside Fit (Full, HeadOnly).
/// </summary>
/// <remarks>
/// The inherited <c>ModelBytes</c>, <c>ModelPath</c> and <c>Weights</c> must stay null: the checkpoint, or the training, is the model.
/// When training, the training data is either the identity-labelled image folder <see cref="TrainingImageFolder"/> or the
/// rows of the IDataView given to Fit (<see cref="ImagePathColumnName"/> and <see cref="IdentityColumnName"/>); the
/// TorchSharp trainer reads the images with its own batching, augmentation and pair sampling. Fit's input also has to
/// carry the face-tensor column the fitted transformer will read.
/// </remarks>
public sealed class XcosTrainingEmbeddingOptions : XcosEmbeddingOptions
{
    /// <summary>
    /// PyTorch checkpoint written by <c>torch.save</c> (a bare state dict or a <c>{'state_dict': ...}</c> container, keys
    /// <c>backbone.*</c>, <c>attention.*</c>, <c>backbone_target.*</c> as the published xCos checkpoints). Required when
    /// <see cref="Training"/> is None; must be null otherwise.
    /// </summary>
    public string? CheckpointPath { get; set; }

    /// <summary>Whether and how Fit trains. Default None (wrap <see cref="CheckpointPath"/>).</summary>
    public XcosEmbeddingTraining Training { get; set; } = XcosEmbeddingTraining.None;

    /// <summary>
    /// Trainer settings (architecture, epochs, optimisers, threads, seed, ...). Its <c>Mode</c> is replaced by the one
    /// <see cref="Training"/> names. HeadOnly needs <see cref="XcosTrainerOptions.TargetCheckpoint"/> (the frozen model).
    /// Default null: <see cref="XcosTrainerOptions"/> defaults (the original recipe, IR-SE-50, 20 epochs).
    /// </summary>
    public XcosTrainerOptions? Trainer { get; set; }

    /// <summary>
    /// Training images: <c>DIR/&lt;identity&gt;/&lt;image&gt;</c> (aligned 112x112 faces). When training, give this or
    /// <see cref="ImagePathColumnName"/> (the rows of Fit's input).
    /// </summary>
    public string? TrainingImageFolder { get; set; }

    /// <summary>
    /// Train on the rows of the IDataView given to Fit: the text column holding each row's image file (aligned
    /// 112x112 face), read with <see cref="IdentityColumnName"/>. Default null (use <see cref="TrainingImageFolder"/>).
    /// </summary>
    public string? ImagePathColumnName { get; set; }

    /// <summary>The text column naming each row's person, with <see cref="ImagePathColumnName"/>. Default "Identity".</summary>
    public string IdentityColumnName { get; set; } = "Identity";

    /// <summary>
    /// Pair sets scored after every epoch. When given, the weights of the best epoch (validation xCos accuracy) are
    /// wrapped; otherwise those of the last epoch. Default null.
    /// </summary>
    public IReadOnlyList<PairSet>? ValidationPairs { get; set; }

    /// <summary>
    /// Folder for the trainer's checkpoints and log. Default null: a new folder under the system temporary folder per
    /// Fit, deleted after the weights are exported.
    /// </summary>
    public string? TrainingOutputDirectory { get; set; }

    /// <summary>Receives the trainer's progress reports (on the training thread). Default null.</summary>
    public IProgress<TrainProgress>? TrainingProgress { get; set; }

    /// <summary>Stops training after the current step; Fit then throws <see cref="OperationCanceledException"/>. Default none.</summary>
    public CancellationToken TrainingCancellation { get; set; }

    /// <summary>The trainer options Fit uses: <see cref="Trainer"/> (or defaults) with the mode of <see cref="Training"/>.</summary>
    public XcosTrainerOptions ResolvedTrainerOptions() => (Trainer ?? new XcosTrainerOptions()) with
    {
        Mode = Training == XcosEmbeddingTraining.HeadOnly ? TrainingMode.Head : TrainingMode.Full,
    };
}
