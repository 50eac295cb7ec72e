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
public sealed record BenchmarkRow(string DataSet, string Source, int Pairs, int Skipped, VerificationReport Xcos, VerificationReport Cosine);

/// <summary>
/// The several-data-set table InsightFace-style papers report (lfw, cfp_fp, agedb_30, ...): per set the pairs, the
/// k-fold accuracy of xCos and of the cosine, their AUC and TAR at FAR 1e-3.
/// </summary>
public static class BenchmarkTable
{
    /// <summary>A fixed-width text table, one line per set, headed by the column names.</summary>
    public static string Format(IReadOnlyList<BenchmarkRow> rows, bool flip)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int w = Math.Max(8, rows.Count == 0 ? 0 : rows.Max(r => r.DataSet.Length));
        var sb = new StringBuilder();
        string F(double v) => double.IsNaN(v) ? "     -" : v.ToString("F4", CultureInfo.InvariantCulture).PadLeft(6);
        sb.Append("data set".PadRight(w)).Append("  pairs  skipped  xcos acc ±std       xcos AUC  xcos TAR@1e-3  cos acc ±std        cos AUC  cos TAR@1e-3")
          .AppendLine(flip ? "  (flip TTA)" : "");
        foreach (var r in rows)
        {
            sb.Append(r.DataSet.PadRight(w))
              .Append(r.Pairs.ToString(CultureInfo.InvariantCulture).PadLeft(7))
              .Append(r.Skipped.ToString(CultureInfo.InvariantCulture).PadLeft(9))
              .Append("  ").Append(F(r.Xcos.AccuracyMean)).Append(" ±").Append(F(r.Xcos.AccuracyStd))
              .Append("    ").Append(F(r.Xcos.Auc))
              .Append("         ").Append(F(r.Xcos.TarAtFar1e3))
              .Append("  ").Append(F(r.Cosine.AccuracyMean)).Append(" ±").Append(F(r.Cosine.AccuracyStd))
              .Append("    ").Append(F(r.Cosine.Auc))
              .Append("        ").Append(F(r.Cosine.TarAtFar1e3))
              .AppendLine();
        }
        return sb.ToString();
    }
}
