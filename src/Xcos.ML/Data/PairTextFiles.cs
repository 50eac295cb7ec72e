using System.Globalization;

namespace Xcos.ML.Data;

/// <summary>How <see cref="PairSetReader"/> turns LFW pairs.txt rows into image file names (extension, digits of the image number).</summary>
public sealed class PairSetReaderOptions
{
    /// <summary>Extension of LFW image files, with the dot. Default ".jpg".</summary>
    public string LfwImageExtension { get; set; } = ".jpg";

    /// <summary>Digits of the image number in LFW file names (<c>Name_0001.jpg</c>). Default 4.</summary>
    public int LfwNumberDigits { get; set; } = 4;
}

/// <summary>LFW <c>pairs.txt</c> (and <c>pairsDevTrain.txt</c>/<c>pairsDevTest.txt</c>).</summary>
/// <remarks>The first line is <c>folds pairs_per_fold</c> (10 300 for pairs.txt: 2 x 300 lines per fold) or a single
/// count N (the dev files: N same then N different lines). Then <c>name i j</c> is a same pair
/// (<c>name/name_000i.jpg</c>, <c>name/name_000j.jpg</c>) and <c>name1 i name2 j</c> a different pair. Fields are
/// separated by tabs or spaces.</remarks>
public static class LfwPairs
{
    /// <summary>Parses the file into pairs whose ids are image paths relative to the LFW image root.</summary>
    /// <exception cref="InvalidDataException">Bad header, bad line (the message names the file and line number) or a pair count that disagrees with the header.</exception>
    /// <param name="path">The pairs.txt file.</param>
    /// <param name="options">Reader options; defaults when null.</param>
    /// <param name="lines">When given, receives the 1-based line number of each pair.</param>
    public static IReadOnlyList<FacePair> Parse(string path, PairSetReaderOptions? options = null, List<int>? lines = null)
    {
        options ??= new PairSetReaderOptions();
        var pairs = new List<FacePair>();
        long expected = -1;
        int lineNo = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNo++;
            string line = raw.Trim().TrimStart('\uFEFF');
            if (line.Length == 0) continue;
            string[] f = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (expected < 0)
            {
                if (f.Length is < 1 or > 2 || !f.All(IsCount))
                    throw new InvalidDataException($"{path}: line {lineNo}: expected a header 'folds pairs_per_fold' or a single pair count, found '{line}'.");
                long a = long.Parse(f[0], CultureInfo.InvariantCulture);
                expected = f.Length == 2 ? 2 * a * long.Parse(f[1], CultureInfo.InvariantCulture) : 2 * a;
                continue;
            }
            pairs.Add(f.Length switch
            {
                3 => new FacePair(FileName(f[0], Number(f[1]), options), FileName(f[0], Number(f[2]), options), true),
                4 => new FacePair(FileName(f[0], Number(f[1]), options), FileName(f[2], Number(f[3]), options), false),
                _ => throw Bad(),
            });
            lines?.Add(lineNo);

            int Number(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw Bad();
            InvalidDataException Bad() => new($"{path}: line {lineNo}: expected 'name i j' (same) or 'name1 i name2 j' (different) with positive image numbers, found '{line}'.");
        }
        if (expected < 0) throw new InvalidDataException($"{path}: empty file, expected an LFW pairs header.");
        if (pairs.Count != expected)
            throw new InvalidDataException($"{path}: the header announces {expected} pair lines but the file has {pairs.Count}.");
        return pairs;
    }

    /// <summary>The LFW file name of image <paramref name="number"/> of <paramref name="name"/>, e.g. <c>Abel_Pacheco/Abel_Pacheco_0001.jpg</c>.</summary>
    public static string FileName(string name, int number, PairSetReaderOptions? options = null)
    {
        options ??= new PairSetReaderOptions();
        return $"{name}/{name}_{number.ToString("D" + options.LfwNumberDigits, CultureInfo.InvariantCulture)}{options.LfwImageExtension}";
    }

    private static bool IsCount(string s) => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0;
}

/// <summary>Plain pair lists: <c>file1&lt;TAB&gt;file2&lt;TAB&gt;same</c> per line, same = 1/0/true/false, an optional header line.</summary>
public static class PairTsv
{
    /// <summary>Parses the file; ids are the paths as written (relative to the image root).</summary>
    /// <exception cref="InvalidDataException">A line without three tab-separated fields or with a bad label (the message names the file and line number).</exception>
    /// <param name="path">The TSV file.</param>
    /// <param name="lines">When given, receives the 1-based line number of each pair.</param>
    public static IReadOnlyList<FacePair> Parse(string path, List<int>? lines = null)
    {
        var pairs = new List<FacePair>();
        int lineNo = 0;
        bool first = true;
        foreach (string raw in File.ReadLines(path))
        {
            lineNo++;
            string line = raw.TrimEnd('\r', '\n');
            if (first) line = line.TrimStart('\uFEFF');
            if (line.Trim().Length == 0) continue;
            string[] f = line.Split('\t');
            bool isFirst = first;
            first = false;
            if (f.Length == 3 && f[0].Trim().Length > 0 && f[1].Trim().Length > 0 && TryLabel(f[2], out bool same))
            {
                pairs.Add(new FacePair(f[0].Trim(), f[1].Trim(), same));
                lines?.Add(lineNo);
                continue;
            }
            // Only the first line may be a header, and it must still have the three columns.
            if (isFirst && f.Length == 3) continue;
            throw new InvalidDataException($"{path}: line {lineNo}: expected 'file1<TAB>file2<TAB>same' with same = 1/0/true/false, found '{line}'.");
        }
        if (pairs.Count == 0) throw new InvalidDataException($"{path}: no pairs found.");
        return pairs;
    }

    internal static bool TryLabel(string s, out bool same)
    {
        switch (s.Trim().ToLowerInvariant())
        {
            case "1" or "true": same = true; return true;
            case "0" or "false": same = false; return true;
            default: same = false; return false;
        }
    }
}

/// <summary>Loads a pair set from any supported format, telling them apart by content.</summary>
public static class PairSetReader
{
    /// <summary>Loads <paramref name="path"/>: an InsightFace .bin, an LFW pairs.txt or a pair TSV.</summary>
    /// <param name="path">The pair file.</param>
    /// <param name="root">Image root for pairs.txt / TSV (ignored for .bin). Default: the pair file's folder.</param>
    /// <param name="options">Reader options; defaults when null.</param>
    public static PairSet Load(string path, string? root = null, PairSetReaderOptions? options = null)
    {
        var format = DetectFormat(path);
        if (format == PairSetFormat.InsightFaceBin) return InsightFaceBin.Load(path);
        root ??= Path.GetDirectoryName(Path.GetFullPath(path))!;
        var lines = new List<int>();
        var pairs = format == PairSetFormat.LfwPairs ? LfwPairs.Parse(path, options, lines) : PairTsv.Parse(path, lines);
        return PairSet.FromFiles(path, format, pairs, root, lines);
    }

    /// <summary>The format of a pair file, from its first bytes: a pickle starts with the PROTO byte 0x80 (or '(' / ']'
    /// for Python 2's older protocols); pairs.txt starts with one or two integers; a TSV line has tabs.</summary>
    /// <exception cref="InvalidDataException">Empty or unrecognised file.</exception>
    public static PairSetFormat DetectFormat(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"pair file not found: {path}", path);
        byte[] head = new byte[4096];
        int n;
        using (var fs = File.OpenRead(path)) n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n == 0) throw new InvalidDataException($"{path}: empty pair file.");
        if (head[0] == 0x80 || head[0] == (byte)'(' || head[0] == (byte)']') return PairSetFormat.InsightFaceBin;

        string text = System.Text.Encoding.UTF8.GetString(head, 0, n).TrimStart('\uFEFF');
        string firstLine = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
        string[] fields = firstLine.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length is 1 or 2 && fields.All(f => f.All(char.IsAsciiDigit))) return PairSetFormat.LfwPairs;
        if (firstLine.Contains('\t')) return PairSetFormat.PairTsv;
        throw new InvalidDataException(
            $"{path}: not a recognised pair file (expected an InsightFace .bin pickle, an LFW pairs.txt starting with counts, or a TSV 'file1<TAB>file2<TAB>same'); first line: '{Shorten(firstLine)}'.");
    }

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "...";
}
