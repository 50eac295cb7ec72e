using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Xcos.ML.Tests;

/// <summary>
/// docs/getting-started.md is run as written: its C# blocks, in order, are the Program.cs of a console app made with the
/// page's commands outside the repository, restored from Xcos.ML packed into a local folder, built and run on real
/// photos; the .zip it saves then scores in another process with no models folder, as the page says.
/// </summary>
public partial class GettingStartedTests
{
    private static readonly TimeSpan StepLimit = TimeSpan.FromMinutes(10);
    private const string FeedPlaceholder = "PATH/TO/xcos/artifacts/packages";

    [Fact]
    public void ThePageNamesTheRepositorysVersionsAndHasAProgram()
    {
        var page = Page();
        Assert.Contains("dotnet pack src/Xcos.ML -c Release -o artifacts/packages", page, StringComparison.Ordinal);
        Assert.Contains("dotnet new console -o FaceCheck", page, StringComparison.Ordinal);
        Assert.Contains($"dotnet add package Xcos.ML --version {RepositoryVersion()}", page, StringComparison.Ordinal);
        Assert.Contains($"dotnet add package SkiaSharp.NativeAssets.Linux.NoDependencies --version {SkiaNativesVersion()}", page, StringComparison.Ordinal);
        Assert.Contains(FeedPlaceholder, Blocks(page, "xml").Single(), StringComparison.Ordinal);
        var program = string.Join("\n", Blocks(page, "csharp"));
        foreach (var call in new[] { "ModelStore.Fetch(", "ml.Data.LoadFromTextFile(", "VerifyFacePairs(", "ml.Data.Cache(", "ml.Model.Save(", "XcosPredictionPool<" })
            Assert.Contains(call, program, StringComparison.Ordinal);
    }

    [DevFacesFact]
    public void ThePagesAppBuildsFromThePackedPackageScoresPairsAndSavesAModelThatScoresWithoutTheModels()
    {
        var repo = RepoRoot();
        var page = Page();
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        // A version of its own, so the NuGet cache never serves an older pack of the same number.
        var version = $"0.0.0-getting-started.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var temp = Directory.CreateTempSubdirectory("xcos-getting-started-").FullName;
        try
        {
            var feed = Path.Combine(temp, "packages");
            // no restore: other test projects pack Xcos.ML at the same time, and a restore would rewrite its obj/
            Dotnet(repo, null, "pack", Path.Combine(repo, "src", "Xcos.ML", "Xcos.ML.csproj"), "-c", configuration, "--no-build", "--no-restore", "-o", feed, $"-p:PackageVersion={version}");
            Dotnet(temp, null, "new", "console", "-o", "FaceCheck");
            var app = Path.Combine(temp, "FaceCheck");
            File.WriteAllText(Path.Combine(app, "nuget.config"), Blocks(page, "xml").Single().Replace(FeedPlaceholder, feed, StringComparison.Ordinal));
            Dotnet(app, null, "add", "package", "Xcos.ML", "--version", version);
            Dotnet(app, null, "add", "package", "SkiaSharp.NativeAssets.Linux.NoDependencies", "--version", SkiaNativesVersion());
            File.WriteAllText(Path.Combine(app, "Program.cs"), string.Join("\n", Blocks(page, "csharp")));
            Dotnet(app, null, "build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false");

            // three same and three different pairs of dev-faces, in the file's own form, its photos beside it
            var work = Directory.CreateDirectory(Path.Combine(temp, "work")).FullName;
            var rows = File.ReadLines(Path.Combine(DevFaces.Root, "pairs.tsv")).Skip(1).ToArray();
            var chosen = rows.Where(r => r.EndsWith("\t1", StringComparison.Ordinal)).Take(3).Concat(rows.Where(r => r.EndsWith("\t0", StringComparison.Ordinal)).Take(3)).ToArray();
            File.WriteAllLines(Path.Combine(work, "pairs.tsv"), chosen.Prepend("file1\tfile2\tsame"));
            Directory.CreateSymbolicLink(Path.Combine(work, "photos"), Path.Combine(DevFaces.Root, "photos"));

            var output = Dotnet(work, new() { ["XCOS_MODELS"] = RealFaces.ModelsDir() }, Path.Combine(app, "bin", "Release", "net10.0", "FaceCheck.dll"), "pairs.tsv");
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            for (int i = 0; i < chosen.Length; i++)
            {
                var f = chosen[i].Split('\t');
                var line = lines.SingleOrDefault(l => l.StartsWith($"{f[0]}\t{f[1]}\t", StringComparison.Ordinal));
                Assert.True(line is not null, $"no scored line for pair {i} ({f[0]}, {f[1]}) in:\n{output}");
                Assert.EndsWith($"\tsame {(f[2] == "1" ? "True" : "False")}\tok", line, StringComparison.Ordinal);
            }
            Assert.Contains(lines, l => l.StartsWith("accuracy ", StringComparison.Ordinal));
            var zip = Path.Combine(work, "verifier.zip");
            Assert.True(File.Exists(zip), "the app saved no verifier.zip:\n" + output);
            // the reloaded model's prediction of the first pair is the pipeline's
            var first = chosen[0].Split('\t');
            var firstScore = ScoreOf(lines.First(l => l.StartsWith($"{first[0]}\t{first[1]}\t", StringComparison.Ordinal)).Split('\t')[2]);
            Assert.Contains($"{first[0]} vs {first[1]}: score {firstScore}, same person True", output, StringComparison.Ordinal);

            // The .zip holds every network: another process, with an empty models folder and an empty home, scores the same.
            var empty = Directory.CreateDirectory(Path.Combine(temp, "empty")).FullName;
            var tsv = Path.Combine(temp, "one.tsv");
            File.WriteAllLines(tsv, ["ImagePath1\tImagePath2", $"{first[0]}\t{first[1]}"]);
            var psi = DeployCheckProcess.StartInfo(zip, tsv);
            psi.Environment["XCOS_MODELS"] = empty;
            psi.Environment["HOME"] = empty;
            psi.Environment.Remove("XDG_DATA_HOME");
            var json = Run(psi, temp);
            var row = JsonDocument.Parse(json).RootElement.GetProperty("rows")[0];
            Assert.Equal("ok", row.GetProperty("status").GetString());
            Assert.Equal(firstScore, float.Parse(row.GetProperty("score").GetString()!, CultureInfo.InvariantCulture).ToString("F3", CultureInfo.InvariantCulture));
        }
        finally
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            // The restore unpacked this one-off version into the global packages folder; nothing else will use it.
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            try { Directory.Delete(Path.Combine(cache, "xcos.ml", version), recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>"score 0.268" to "0.268".</summary>
    private static string ScoreOf(string field) => field.StartsWith("score ", StringComparison.Ordinal) ? field["score ".Length..] : throw new FormatException($"not a score field: {field}");

    /// <summary>The contents of every fenced block of <paramref name="language"/> in <paramref name="markdown"/>, in order.</summary>
    private static IEnumerable<string> Blocks(string markdown, string language) =>
        Fence().Matches(markdown.ReplaceLineEndings("\n")).Where(m => m.Groups[1].Value == language).Select(m => m.Groups[2].Value);

    private static string Page() => File.ReadAllText(Path.Combine(RepoRoot(), "docs", "getting-started.md"));

    private static string RepositoryVersion() => Match(Path.Combine(RepoRoot(), "Directory.Build.props"), @"<VersionPrefix>([^<]+)</VersionPrefix>");

    private static string SkiaNativesVersion() =>
        Match(Path.Combine(RepoRoot(), "Directory.Packages.props"), @"<PackageVersion Include=""SkiaSharp.NativeAssets.Linux.NoDependencies"" Version=""([^""]+)""");

    private static string Match(string file, string pattern)
    {
        var m = Regex.Match(File.ReadAllText(file), pattern);
        Assert.True(m.Success, $"{file}: no match for {pattern}");
        return m.Groups[1].Value;
    }

    private static string Dotnet(string workingDirectory, Dictionary<string, string?>? environment, params string[] args)
    {
        var psi = ChildProcess.Dotnet(workingDirectory, args);
        foreach (var (k, v) in environment ?? []) psi.Environment[k] = v;
        return Run(psi, workingDirectory);
    }

    private static string Run(ProcessStartInfo psi, string workingDirectory)
    {
        psi.WorkingDirectory = workingDirectory;
        var (code, stdout, stderr) = ChildProcess.Run(psi, StepLimit);
        Assert.True(code == 0, $"{ChildProcess.Describe(psi)} (in {workingDirectory}) exited with {code}:\n{stdout}\n{stderr}");
        return stdout;
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Xcos.ML.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^```(\w*)\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();
}
