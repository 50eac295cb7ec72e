using System.Globalization;

namespace Xcos.ML.Data;

/// <summary>LFW <c>pairs.txt</c> (and <c>pairsDevTrain.txt</c>/<c>pairsDevTest.txt</c>).</summary>
/// <remarks>The first line is <c>folds pairs_per_fold</c> (10 300 for pairs.txt: 2 x 300 lines per fold) or a single
/// count N (the dev files: N same then N different lines). Then <c>name i j</c> is a same pair
/// (<c>name/name_000i.jpg</c>, <c>name/name_000j.jpg</c>) and <c>name1 i name2 j</c> a different pair. Fields are
/// separated by tabs or spaces.</remarks>
internal static class LfwPairs
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
