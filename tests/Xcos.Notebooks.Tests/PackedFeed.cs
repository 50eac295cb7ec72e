using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Xcos.Notebooks.Tests;

/// <summary>
/// Xcos.ML and Xcos.ML.Torch packed from this build (the configuration the test was built in) into a temporary folder,
/// under a version of their own so the NuGet cache never serves an older pack of the same number. The notebooks name
/// <c>../artifacts/packages</c> and the repository's version; <see cref="Redirect"/> points a cell at this folder instead.
/// </summary>
public sealed partial class PackedFeed : IDisposable
{
    private static readonly TimeSpan PackLimit = TimeSpan.FromMinutes(5);
    private readonly string _temp = Path.Combine(Path.GetTempPath(), $"xcos-notebook-feed-{Guid.NewGuid():N}");

    /// <summary>The folder holding the two .nupkg files.</summary>
    public string Folder { get; }

    /// <summary>The version the packages were packed under.</summary>
    public string Version { get; } = $"0.0.0-notebook.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    public PackedFeed()
    {
        Folder = Path.Combine(_temp, "packages");
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        foreach (var project in new[] { "src/Xcos.ML/Xcos.ML.csproj", "src/Xcos.ML.Torch/Xcos.ML.Torch.csproj" })
            Pack(Path.Combine(RepoRoot(), project), configuration);
    }

    /// <summary>The repository's package version (<c>VersionPrefix</c> of Directory.Build.props), which the notebooks name.</summary>
    public static string RepositoryVersion()
    {
        var m = VersionPrefix().Match(File.ReadAllText(Path.Combine(RepoRoot(), "Directory.Build.props")));
        if (!m.Success) throw new InvalidDataException("Directory.Build.props has no <VersionPrefix>");
        return m.Groups[1].Value;
    }

    /// <summary><paramref name="code"/> with the notebooks' package folder and the repository's version of Xcos.ML and Xcos.ML.Torch replaced by this feed's.</summary>
    public string Redirect(string code) =>
        XcosReference().Replace(code.Replace(NotebookTests.FeedLine, $"#i \"nuget: {Folder}\"", StringComparison.Ordinal),
            m => m.Groups[2].Value == RepositoryVersion() ? $"#r \"nuget: {m.Groups[1].Value}, {Version}\"" : m.Value);

    public void Dispose()
    {
        TryDelete(_temp);
        // The restore unpacked this one-off version into the global packages folder; nothing else will use it.
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "xcos.ml", "xcos.ml.torch" }) TryDelete(Path.Combine(cache, id, Version));
    }

    private void Pack(string project, string configuration)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // no restore: other test projects pack these projects at the same time, and a restore would rewrite their obj/
        foreach (var a in new[] { "pack", project, "-c", configuration, "--no-build", "--no-restore", "-o", Folder, $"-p:PackageVersion={Version}" }) psi.ArgumentList.Add(a);
        // The test host runs under `dotnet test`, whose MSBuild settings must not leak into this build.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH").ToList())
            psi.Environment.Remove(key);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(PackLimit)) { p.Kill(true); throw new TimeoutException($"dotnet pack {project} ran past {PackLimit}"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"dotnet pack {project} exited with {p.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Xcos.ML.sln not found above " + AppContext.BaseDirectory);
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    [GeneratedRegex(@"<VersionPrefix>([^<]+)</VersionPrefix>")]
    private static partial Regex VersionPrefix();

    [GeneratedRegex(@"#r ""nuget: (Xcos\.ML(?:\.Torch)?), ([^""]+)""")]
    private static partial Regex XcosReference();
}
