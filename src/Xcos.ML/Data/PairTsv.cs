using System.Globalization;

namespace Xcos.ML.Data;

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
