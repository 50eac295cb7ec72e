using System.Globalization;

namespace Xcos.ML.Metrics;

/// <summary>One pair's scores as <see cref="PairScoresFile"/> stores them.</summary>
/// <param name="File1">First image, as the pair file names it.</param>
/// <param name="File2">Second image.</param>
/// <param name="Same">Ground truth: same identity.</param>
/// <param name="Xcos">xCos, or null when the pair could not be scored.</param>
/// <param name="Cosine">The model's cosine, or null when the pair could not be scored.</param>
/// <param name="Status">"ok", or why the pair was not scored (e.g. "no_face: a.jpg").</param>
internal sealed record PairScoreRow(string File1, string File2, bool Same, double? Xcos, double? Cosine, string Status);

/// <summary>
/// Per-pair scores as TSV, one row per pair of the pair file (scored or not), so that models, variants and thresholds
/// can be compared outside the tool: header <c>file1 file2 same xcos cosine status variant</c>; same is 1/0; scores
/// in invariant culture, round-trip precision, empty when the pair was not scored; variant names the xCos variant.
/// </summary>
internal static class PairScoresFile
{
    /// <summary>The header line's columns.</summary>
    public static readonly string[] Columns = ["file1", "file2", "same", "xcos", "cosine", "status", "variant"];

    /// <summary>
    /// Writes the rows through <see cref="Data.AtomicFile"/>: next to the link-resolved target first, moved into place only
    /// when complete, so a failure leaves an existing file as it was; a device or FIFO (/dev/stdout) is written directly.
    /// </summary>
    /// <exception cref="ArgumentException">A field holds a tab or line break (it would break the TSV), or the variant is empty.</exception>
    public static void Write(string path, string variant, IEnumerable<PairScoreRow> rows)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(rows);
        if (string.IsNullOrWhiteSpace(variant)) throw new ArgumentException("the xCos variant must be named", nameof(variant));
        Check(variant, "variant", 0);
        // rows are checked while they are written: a bad one aborts the write before the rename, the old file stays
        Data.AtomicFile.Write(path, stream =>
        {
            using var w = new StreamWriter(stream, leaveOpen: true);
            w.WriteLine(string.Join('\t', Columns));
            int n = 0;
            foreach (var r in rows)
            {
                n++;
                Check(r.File1, "file1", n); Check(r.File2, "file2", n); Check(r.Status, "status", n);
                w.WriteLine(string.Join('\t', r.File1, r.File2, r.Same ? "1" : "0", Num(r.Xcos), Num(r.Cosine), r.Status, variant));
            }
        });
    }

    /// <summary>Reads a file written by <see cref="Write"/>.</summary>
    /// <exception cref="InvalidDataException">Wrong header, wrong column count or an unparsable value; names the file and line.</exception>
    public static IReadOnlyList<(PairScoreRow Row, string Variant)> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"pair scores file not found: {path}", path);
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0] != string.Join('\t', Columns))
            throw new InvalidDataException($"{path}: line 1 must be the header '{string.Join(' ', Columns)}' (tab-separated)");
        var rows = new List<(PairScoreRow, string)>();
        for (int i = 1; i < lines.Length; i++)
        {
            var c = lines[i].Split('\t');
            if (c.Length != Columns.Length) throw new InvalidDataException($"{path}: line {i + 1} has {c.Length} columns, expected {Columns.Length}");
            if (c[2] is not ("0" or "1")) throw new InvalidDataException($"{path}: line {i + 1}: same must be 0 or 1, got '{c[2]}'");
            rows.Add((new PairScoreRow(c[0], c[1], c[2] == "1", Parse(c[3], path, i + 1, "xcos"), Parse(c[4], path, i + 1, "cosine"), c[5]), c[6]));
        }
        return rows;
    }

    private static string Num(double? v) => v is { } x ? x.ToString("R", CultureInfo.InvariantCulture) : "";

    private static double? Parse(string s, string path, int line, string column) =>
        s.Length == 0 ? null
        : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
        : throw new InvalidDataException($"{path}: line {line}: {column} '{s}' is not a number");

    private static void Check(string field, string name, int row)
    {
        ArgumentNullException.ThrowIfNull(field, name);
        if (field.AsSpan().IndexOfAny('\t', '\n', '\r') >= 0)
            throw new ArgumentException($"pair {row}: {name} '{field.ReplaceLineEndings(" ")}' holds a tab or line break, which a TSV cannot carry");
    }
}
