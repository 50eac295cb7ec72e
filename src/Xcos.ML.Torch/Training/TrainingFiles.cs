using Xcos.ML.Heads;

namespace Xcos.ML.Torch.Training;

/// <summary>File names a trainer writes into its output folder.</summary>
public static class TrainingFiles
{
    /// <summary>Resumable checkpoint of the latest state.</summary>
    public const string LastCheckpoint = "last.ckpt";
    /// <summary>Resumable checkpoint of the best epoch.</summary>
    public const string BestCheckpoint = "best.ckpt";
    /// <summary>Model weights of the latest state, PyTorch <c>{'state_dict': ...}</c> in the xCos key layout.</summary>
    public const string LastWeights = "last.pth";
    /// <summary>Model weights of the best epoch.</summary>
    public const string BestWeights = "best.pth";
    /// <summary>File name of the CSV log: one row per epoch (losses, learning rates, validation metrics).</summary>
    public const string Log = "log.csv";
    /// <summary>The options of the run.</summary>
    public const string Options = "options.json";
    /// <summary>Folder of the TensorBoard event files (<c>tensorboard --logdir OUT/runs</c>).</summary>
    public const string TensorBoard = "runs";

    /// <summary>Every file name above: what makes a folder hold a run.</summary>
    public static IReadOnlyList<string> All { get; } = [LastCheckpoint, BestCheckpoint, LastWeights, BestWeights, Log, Options];

    /// <summary>
    /// Deletes the temporary files (<c>.NAME.GUID.tmp</c>) that a write killed before its rename left behind; the
    /// files they were meant to replace are untouched.
    /// </summary>
    /// <returns>The paths deleted.</returns>
    public static IReadOnlyList<string> RemoveStaleTemporaries(string directory)
    {
        var removed = new List<string>();
        if (!Directory.Exists(directory)) return removed;
        foreach (var path in Directory.EnumerateFiles(directory, ".*.tmp"))
        {
            var name = Path.GetFileName(path);
            if (!All.Append(LearnedHead.DefaultFileName).Any(f => name.StartsWith("." + f + ".", StringComparison.Ordinal))) continue;
            File.Delete(path);
            removed.Add(path);
        }
        return removed;
    }

    /// <summary>A one-line description of the run in <paramref name="directory"/>, or null when it holds no checkpoint, weights or log.</summary>
    public static string? DescribeRun(string directory)
    {
        var present = All.Where(f => File.Exists(Path.Combine(directory, f))).ToArray();
        // options.json alone is a run that failed before its first checkpoint: nothing there to lose
        if (present.All(f => f == Options)) return null;
        var last = Path.Combine(directory, LastCheckpoint);
        string position = "";
        if (File.Exists(last))
        {
            try
            {
                var state = TrainingCheckpoint.ReadState(last);
                position = $"{state.Mode.ToString().ToLowerInvariant()} mode, {state.CompletedEpochs} epoch(s) and {state.GlobalStep} step(s) done; ";
            }
            catch (Checkpoints.CheckpointException) { position = "unreadable last.ckpt; "; }
        }
        return $"{position}files {string.Join(", ", present)}";
    }

    /// <summary>Deletes the run files of <paramref name="directory"/> (for an explicit overwrite); other files stay.</summary>
    public static void RemoveRun(string directory)
    {
        foreach (var f in All.Append(LearnedHead.DefaultFileName))
        {
            var path = Path.Combine(directory, f);
            if (File.Exists(path)) File.Delete(path);
        }
        RemoveStaleTemporaries(directory);
    }
}
