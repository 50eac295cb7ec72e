namespace Xcos.TestUtilities;

/// <summary>Real photos of ../shared/dev-faces (10 people), found from the test output folder.</summary>
public static class DevFaces
{
    /// <summary>The dev-faces folder (the one holding pairs.tsv), or null.</summary>
    public static string? Dir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "shared", "dev-faces");
            if (File.Exists(Path.Combine(candidate, "pairs.tsv"))) return candidate;
        }
        return null;
    }

    /// <summary>The dev-faces folder; throws when there is none (for tests that are skipped without it).</summary>
    public static string Root => Dir() ?? throw new DirectoryNotFoundException("shared/dev-faces not found above " + AppContext.BaseDirectory);

    /// <summary>The pairs of pairs.tsv, as absolute paths.</summary>
    public static IReadOnlyList<PhotoPair> Pairs()
    {
        var dir = Root;
        return File.ReadAllLines(Path.Combine(dir, "pairs.tsv")).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t'))
            .Select(f => new PhotoPair { ImagePath1 = Path.Combine(dir, f[0]), ImagePath2 = Path.Combine(dir, f[1]), Label = f[2] == "1" }).ToList();
    }
}
