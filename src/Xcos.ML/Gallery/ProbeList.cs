namespace Xcos.ML.Gallery;

/// <summary>One probe row: a photo and who it truly is.</summary>
/// <param name="File">The photo path as written in the list.</param>
/// <param name="Identity">The true identity.</param>
/// <param name="Line">1-based line number in the list.</param>
internal sealed record ProbeRow(string File, string Identity, int Line);

/// <summary>
/// A probe list: tab-separated <c>file identity</c> rows; an optional first row <c>file	identity</c> is a header;
/// blank lines and lines starting with '#' are skipped. Paths are relative to a root folder unless absolute.
/// </summary>
internal static class ProbeList
{
    /// <summary>Reads a probe list.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">A row without exactly two tab-separated fields (names the file and line), or no rows.</exception>
    public static IReadOnlyList<ProbeRow> Read(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{path}: probe list not found", path);
        var rows = new List<ProbeRow>();
        int line = 0;
        foreach (var raw in System.IO.File.ReadLines(path))
        {
            line++;
            var text = raw.TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(text) || text.StartsWith('#')) continue;
            var f = text.Split('\t');
            if (f.Length != 2 || string.IsNullOrWhiteSpace(f[0]) || string.IsNullOrWhiteSpace(f[1]))
                throw new InvalidDataException($"{path}:{line}: expected two tab-separated fields 'file<TAB>identity', got {f.Length} field(s): '{text}'");
            if (rows.Count == 0 && line == 1 && f[0].Trim() == "file" && f[1].Trim() == "identity") continue;
            rows.Add(new ProbeRow(f[0].Trim(), f[1].Trim(), line));
        }
        if (rows.Count == 0) throw new InvalidDataException($"{path}: no probe rows (expected 'file<TAB>identity' lines)");
        return rows;
    }
}
