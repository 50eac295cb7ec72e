using System.Globalization;

namespace Xcos.ML.Data;

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
