using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// The packages as a user gets them: Xcos.ML and Xcos.ML.Torch are packed into a local feed, and two console
/// projects from tests/consumer are copied OUTSIDE the repository (so none of its build files apply), restored from
/// that feed plus the machine's package sources, built and run. "fit" fits the pipeline from the fixture checkpoint
/// with Xcos.ML.Torch and saves a .zip; "score" loads it with Xcos.ML alone and must print the same scores.
/// </summary>
public class PackagedConsumerTests
{
    private static readonly TimeSpan StepLimit = TimeSpan.FromMinutes(10);

    [Fact]
    public void PackedPackagesFitInOneProjectAndScoreInAnotherWithoutTorchSharp()
    {
        var repo = RepoRoot();
        // The src projects were built in the configuration of this test output; pack reuses that build.
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        // A version of its own, so the NuGet cache never serves an older pack of the same number.
        var version = $"0.0.0-consumer.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var temp = Path.Combine(Path.GetTempPath(), $"xcos-consumer-{Guid.NewGuid():N}");
        var feed = Path.Combine(temp, "feed");
        var work = Path.Combine(temp, "src");
        try
        {
            foreach (var project in new[] { "src/Xcos.ML/Xcos.ML.csproj", "src/Xcos.ML.Torch/Xcos.ML.Torch.csproj" })
                Dotnet(repo, "pack", Path.Combine(repo, project), "-c", configuration, "--no-build", "-o", feed, $"-p:PackageVersion={version}");
            var packages = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileName).Order().ToArray();
            Assert.Equal(new[] { $"Xcos.ML.{version}.nupkg", $"Xcos.ML.Torch.{version}.nupkg" }, packages);
            // native assets are the application's choice: neither package depends on SkiaSharp's Linux natives or on libtorch
            foreach (var package in packages)
            {
                var nuspec = Nuspec(Path.Combine(feed, package!));
                // the dependency ids only: Xcos.ML.Torch's description names libtorch on purpose
                Assert.DoesNotContain("id=\"SkiaSharp.NativeAssets", nuspec);
                Assert.DoesNotContain("id=\"libtorch", nuspec);
                Assert.Contains("<dependency id=\"", nuspec);
            }

            CopyFolder(Path.Combine(repo, "tests", "consumer"), work);
            // Adds the feed to the machine's package sources (no <clear/>): everything else restores as usual.
            File.WriteAllText(Path.Combine(work, "nuget.config"),
                $"<configuration><packageSources><add key=\"xcos-packed\" value=\"{feed}\" /></packageSources></configuration>");
            var properties = new[] { $"-p:XcosVersion={version}", $"-p:LibTorchVersion={CentralVersion(repo, "libtorch-cpu-linux-x64")}",
                $"-p:SkiaSharpVersion={CentralVersion(repo, "SkiaSharp.NativeAssets.Linux.NoDependencies")}" };
            foreach (var name in new[] { "fit", "score" })
                Dotnet(work, ["build", Path.Combine(work, name, name + ".csproj"), "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false", .. properties]);

            var fitOut = Path.Combine(work, "fit", "bin", "Release", "net10.0");
            var scoreOut = Path.Combine(work, "score", "bin", "Release", "net10.0");
            var zip = Path.Combine(temp, "verifier.zip");
            var fixtures = Fixtures.Path("xcos_tiny");
            var fitted = Dotnet(temp, Path.Combine(fitOut, "fit.dll"), Fixtures.Path("xcos_tiny", "checkpoint.pth"), fixtures, zip);
            var scored = Dotnet(temp, Path.Combine(scoreOut, "score.dll"), zip, fixtures);

            var lines = fitted.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(5, lines.Length); // header and four pairs
            Assert.Equal(fitted, scored);
            // The two same-face pairs are accepted, the two different ones not.
            var predicted = Array.IndexOf(lines[0].Split('\t'), "PredictedLabel");
            Assert.Equal(new[] { "true", "true", "false", "false" }, lines.Skip(1).Select(l => l.Split('\t')[predicted]));
            // The Xcos.ML-only process reproduces the PyTorch reference: xCos and the target backbone's cosine.
            foreach (var (column, reference) in new[] { ("Xcos", "xcos.npy"), ("Cosine", "target_cos.npy") })
            {
                int at = Array.IndexOf(lines[0].Split('\t'), column);
                var want = Npy.Read(Fixtures.Path("xcos_tiny", reference)).AsFloat32();
                var got = lines.Skip(1).Select(l => float.Parse(l.Split('\t')[at], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
                for (int i = 0; i < 4; i++) Assert.True(Math.Abs(want[i] - got[i]) <= 1e-4f, $"pair {i}: {column} {got[i]} vs {reference} {want[i]}");
            }

            var torchFiles = Directory.EnumerateFiles(scoreOut, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(f).Contains("torch", StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.True(torchFiles.Count == 0, "the Xcos.ML-only output holds TorchSharp/libtorch files: " + string.Join(", ", torchFiles.Take(5)));
            // Xcos.ML's buildTransitive targets copy the shipped descriptors next to the application, also through
            // Xcos.ML.Torch (a package dependency excludes "build" assets by default, not "buildTransitive").
            foreach (var output in new[] { scoreOut, fitOut })
                Assert.True(File.Exists(Path.Combine(output, "data", "fr_feature", "descriptor.json")), "data/fr_feature/descriptor.json missing from " + output);
            Assert.NotEmpty(Directory.GetFiles(fitOut, "libLibTorchSharp.so", SearchOption.AllDirectories));
        }
        finally
        {
            TryDelete(temp);
            // The restore unpacked this one-off version into the global packages folder; nothing else will use it.
            var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (var id in new[] { "xcos.ml", "xcos.ml.torch" }) TryDelete(Path.Combine(cache, id, version));
        }
    }

    private static string Dotnet(string workingDirectory, params string[] args)
    {
        var (code, stdout, stderr) = ChildProcess.Run(ChildProcess.Dotnet(workingDirectory, args), StepLimit);
        Assert.True(code == 0, $"dotnet {string.Join(' ', args)} exited with {code}:\n{Tail(stdout)}\n{Tail(stderr)}");
        return stdout;
    }

    private static string Nuspec(string nupkg)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(nupkg);
        using var reader = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        return reader.ReadToEnd();
    }

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Xcos.ML.sln not found above " + AppContext.BaseDirectory);
    }

    // The consumer pins the same natives as the repository: Directory.Packages.props is the one place for versions.
    private static string CentralVersion(string repo, string id)
    {
        var props = File.ReadAllText(Path.Combine(repo, "Directory.Packages.props"));
        var m = Regex.Match(props, $"<PackageVersion Include=\"{Regex.Escape(id)}\" Version=\"([^\"]+)\"");
        Assert.True(m.Success, $"Directory.Packages.props has no version for {id}");
        return m.Groups[1].Value;
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(from, file);
            if (rel.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj")) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, rel))!);
            File.Copy(file, Path.Combine(to, rel));
        }
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
