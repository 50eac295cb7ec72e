using System.Globalization;
using System.Text;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// CSV log of a run, one row per epoch: <c>epoch, step, loss, ce_loss, xcos_loss, lr_*, seconds, pairs_per_s</c>
/// and, per validation set NAME, <c>NAME_xcos_acc, NAME_xcos_auc, NAME_xcos_eer, NAME_cos_acc, NAME_cos_auc, NAME_cos_eer, NAME_skipped</c>.
/// A resumed run appends to the same file (the header is written once).
/// </summary>
public sealed class TrainingLog
{
    private static readonly string[] LossColumns = ["epoch", "step", "loss", "ce_loss", "xcos_loss"];
    private static readonly string[] SetColumns = ["xcos_acc", "xcos_auc", "xcos_eer", "cos_acc", "cos_auc", "cos_eer", "skipped"];
    private readonly string[] _lrNames;
    private readonly string[] _setNames;

    /// <summary>Opens (or starts) the log at <paramref name="path"/>.</summary>
    public TrainingLog(string path, IEnumerable<string> learningRateNames, IEnumerable<string> validationNames)
    {
        Path = System.IO.Path.GetFullPath(path);
        _lrNames = learningRateNames.ToArray();
        _setNames = validationNames.Select(Sanitize).ToArray();
        Header = string.Join(",", LossColumns
            .Concat(_lrNames.Select(n => "lr_" + n))
            .Concat(["seconds", "pairs_per_s"])
            .Concat(_setNames.SelectMany(n => SetColumns.Select(c => $"{n}_{c}"))));
    }

    /// <summary>Full path of the CSV log file.</summary>
    public string Path { get; }

    /// <summary>The CSV header: fixed loss columns, one lr column per parameter group, then metrics per validation set.</summary>
    public string Header { get; }

    /// <summary>Appends the row of <paramref name="r"/> and closes the file again, so the log survives an interrupted run.</summary>
    public void Append(EpochResult r)
    {
        var c = CultureInfo.InvariantCulture;
        var f = new List<string>
        {
            r.Epoch.ToString(c), r.GlobalStep.ToString(c), F(r.Loss), F(r.ClassificationLoss), F(r.XcosLoss),
        };
        f.AddRange(_lrNames.Select(n => r.LearningRates.TryGetValue(n, out var v) ? F(v) : ""));
        f.Add(F(r.Seconds)); f.Add(F(r.PairsPerSecond));
        for (int i = 0; i < _setNames.Length; i++)
        {
            var v = i < r.Validation.Count ? r.Validation[i] : null;
            if (v is null) { f.AddRange(Enumerable.Repeat("", 7)); continue; }
            f.AddRange([F(v.Xcos.AccuracyMean), F(v.Xcos.Auc), F(v.Xcos.Eer), F(v.Cosine.AccuracyMean), F(v.Cosine.Auc), F(v.Cosine.Eer), v.SkippedPairs.ToString(c)]);
        }
        var sb = new StringBuilder();
        bool fresh = !File.Exists(Path) || new FileInfo(Path).Length == 0;
        if (fresh) sb.Append(Header).Append('\n');
        sb.Append(string.Join(",", f)).Append('\n');
        File.AppendAllText(Path, sb.ToString());
    }

    /// <summary>
    /// Drops the rows of epochs after <paramref name="completedEpochs"/>: rows written just before a kill, whose
    /// checkpoint never landed, or rows of an earlier run in the same folder. The file is replaced atomically.
    /// </summary>
    public void KeepEpochs(int completedEpochs)
    {
        if (!File.Exists(Path)) return;
        var lines = File.ReadAllLines(Path);
        var kept = lines.Where((line, i) => i == 0 && !char.IsAsciiDigit(line.FirstOrDefault())
            || int.TryParse(line.Split(',')[0], NumberStyles.None, CultureInfo.InvariantCulture, out int epoch) && epoch <= completedEpochs).ToArray();
        if (kept.Length == lines.Length) return;
        var temp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temp, string.Concat(kept.Select(l => l + "\n")));
        File.Move(temp, Path, overwrite: true);
    }

    private static string F(double v) => v.ToString("G9", CultureInfo.InvariantCulture);

    /// <summary>A column-safe name: letters, digits and underscores.</summary>
    public static string Sanitize(string name)
    {
        var s = new string(name.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_').ToArray());
        return s.Length == 0 ? "val" : s;
    }
}
