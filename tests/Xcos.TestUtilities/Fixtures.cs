namespace Xcos.TestUtilities;

/// <summary>Locates ../shared/fixtures (read-only parity data) from the test output folder.</summary>
public static class Fixtures
{
    public static string Dir { get; } = Find();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Dir, .. parts]);

    private static string Find()
    {
        var env = Environment.GetEnvironmentVariable("XCOS_FIXTURES");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var candidate = System.IO.Path.Combine(d.FullName, "shared", "fixtures");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("shared/fixtures not found above " + AppContext.BaseDirectory + "; set XCOS_FIXTURES");
    }
}
