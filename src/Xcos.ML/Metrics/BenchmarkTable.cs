using System.Globalization;
using System.Text;

namespace Xcos.ML.Metrics;

/// <summary>One data set of a benchmark run: xCos and the plain cosine under the same protocol.</summary>
/// <param name="DataSet">Name shown in the table (the pair file's name without extension, e.g. lfw).</param>
/// <param name="Source">The pair file.</param>
/// <param name="Pairs">Pairs scored.</param>
/// <param name="Skipped">Pairs that could not be scored (unreadable image, no face).</param>
/// <param name="Xcos">Metrics of the xCos score.</param>
/// <param name="Cosine">Metrics of the cosine.</param>
internal sealed record BenchmarkRow(string DataSet, string Source, int Pairs, int Skipped, VerificationReport Xcos, VerificationReport Cosine);

/// <summary>
/// The several-data-set table InsightFace-style papers report (lfw, cfp_fp, agedb_30, ...): per set the pairs, the
/// k-fold accuracy of xCos and of the cosine, their AUC and TAR at FAR 1e-3.
/// </summary>
internal static class BenchmarkTable
{
    /// <summary>A fixed-width text table, one line per set, headed by the column names.</summary>
    public static string Format(IReadOnlyList<BenchmarkRow> rows, bool flip)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int w = Math.Max(8, rows.Count == 0 ? 0 : rows.Max(r => r.DataSet.Length));
        int[] widths = [7, 9, 18, 10, 15, 18, 10, 15];
        string[] head = ["pairs", "skipped", "xCos acc ± std", "xCos AUC", "xCos TAR@1e-3", "cos acc ± std", "cos AUC", "cos TAR@1e-3"];
        static string F(double v) => double.IsNaN(v) ? "-" : v.ToString("F4", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        void Line(string name, IReadOnlyList<string> cells)
        {
            sb.Append(name.PadRight(w));
            for (int i = 0; i < cells.Count; i++) sb.Append(cells[i].PadLeft(widths[i]));
            sb.AppendLine();
        }
        Line("data set", head);
        foreach (var r in rows)
            Line(r.DataSet, [
                r.Pairs.ToString(CultureInfo.InvariantCulture), r.Skipped.ToString(CultureInfo.InvariantCulture),
                $"{F(r.Xcos.AccuracyMean)} ± {F(r.Xcos.AccuracyStd)}", F(r.Xcos.Auc), F(r.Xcos.TarAtFar1e3),
                $"{F(r.Cosine.AccuracyMean)} ± {F(r.Cosine.AccuracyStd)}", F(r.Cosine.Auc), F(r.Cosine.TarAtFar1e3)]);
        if (flip) sb.AppendLine("flip test-time augmentation: each face embedded as image + mirrored image");
        return sb.ToString();
    }
}
