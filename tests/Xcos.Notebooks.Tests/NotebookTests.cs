using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;
using Xunit.Abstractions;

namespace Xcos.Notebooks.Tests;

// Every notebook changes the process's working folder and environment: one at a time.
[CollectionDefinition("Notebooks", DisableParallelization = true)]
public sealed class NotebookCollection { }

/// <summary>
/// Runs each notebook under notebooks/ cell by cell in an in-process C# kernel (.NET Interactive), with
/// XCOS_NOTEBOOK_QUICK=1 so the notebooks shrink their work, and fails on the first failing cell naming the notebook and cell.
/// The notebooks reference the libraries as a user does (<c>#i "nuget: ../artifacts/packages"</c>, <c>#r "nuget: Xcos.ML..."</c>):
/// here that folder is <see cref="PackedFeed"/>, packed from this build under a version of its own.
/// </summary>
[Collection("Notebooks")]
public sealed class NotebookTests(ITestOutputHelper output, PackedFeed feed) : IClassFixture<PackedFeed>
{
    /// <summary>The package folder the notebooks name, relative to notebooks/, as `dotnet pack ... -o artifacts/packages` makes it.</summary>
    public const string FeedLine = "#i \"nuget: ../artifacts/packages\"";

    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(NotebookDirectory, "*.ipynb").Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(f));
        return data;
    }

    /// <summary>The repository's notebooks folder, found upwards from the test's output folder.</summary>
    public static string NotebookDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Xcos.ML.sln")))
                    return Path.Combine(dir.FullName, "notebooks");
            throw new DirectoryNotFoundException($"no Xcos.ML.sln above {AppContext.BaseDirectory}");
        }
    }

    [Fact]
    public void EveryNotebookIsFound() =>
        Assert.Equal(["01-quickstart.ipynb", "02-train-and-evaluate.ipynb", "03-explain-real-faces.ipynb"],
            Directory.GetFiles(NotebookDirectory, "*.ipynb").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task NotebookRunsWithoutAFailingCell(string name)
    {
        string path = Path.Combine(NotebookDirectory, name);
        var document = Notebook.Parse(await File.ReadAllTextAsync(path));
        var cells = document.Elements.Where(e => e.KernelName is "csharp" or "C#").ToList();
        Assert.True(cells.Count > 0, $"{name}: no C# code cells");

        string references = cells[0].Contents;
        Assert.True(references.Contains(FeedLine, StringComparison.Ordinal), $"{name}: the first code cell does not say {FeedLine}");
        Assert.Matches($"#r \"nuget: Xcos\\.ML(\\.Torch)?, {System.Text.RegularExpressions.Regex.Escape(PackedFeed.RepositoryVersion())}\"", references);
        Assert.DoesNotMatch("#r \"(?!nuget:)", references);  // no DLL paths into a build folder

        string previousDir = Environment.CurrentDirectory;
        string? previousQuick = Environment.GetEnvironmentVariable("XCOS_NOTEBOOK_QUICK");
        // relative paths (../shared/...) as a Jupyter kernel started in notebooks/ sees them
        Environment.CurrentDirectory = NotebookDirectory;
        Environment.SetEnvironmentVariable("XCOS_NOTEBOOK_QUICK", "1");
        try
        {
            using var kernel = new CSharpKernel().UseKernelHelpers().UseNugetDirective((k, resolved) =>
            {
                k.AddAssemblyReferences(resolved.SelectMany(r => r.AssemblyPaths));
                return Task.CompletedTask;
            });
            for (int i = 0; i < cells.Count; i++)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = await kernel.SendAsync(new SubmitCode(feed.Redirect(cells[i].Contents)));
                foreach (var e in result.Events)
                    switch (e)
                    {
                        case StandardOutputValueProduced o: output.WriteLine(Text(o)); break;
                        case DisplayedValueProduced d: output.WriteLine($"[display] {Summary(d)}"); break;
                    }
                var failed = result.Events.OfType<CommandFailed>().FirstOrDefault();
                Assert.True(failed is null, $"{name}: code cell {i} (element {document.Elements.IndexOf(cells[i])}) failed: {failed?.Message}\n--- cell ---\n{cells[i].Contents}");
                output.WriteLine($"{name}: cell {i} ok in {clock.Elapsed.TotalSeconds:F1} s");
            }
            // the library the cells ran is the packed one, not a build output of this repository
            var library = AppDomain.CurrentDomain.GetAssemblies().Single(a => a.GetName().Name == "Xcos.ML");
            Assert.Contains(Path.Combine("xcos.ml", feed.Version), library.Location, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            Environment.CurrentDirectory = previousDir;
            Environment.SetEnvironmentVariable("XCOS_NOTEBOOK_QUICK", previousQuick);
        }
    }

    private static string Text(StandardOutputValueProduced o) =>
        o.FormattedValues.FirstOrDefault(v => v.MimeType == "text/plain")?.Value?.TrimEnd() ?? "";

    private static string Summary(DisplayedValueProduced d)
    {
        var v = d.FormattedValues.FirstOrDefault();
        if (v is null) return "(nothing)";
        return v.MimeType + ": " + (v.Value.Length > 120 ? v.Value[..120] + "..." : v.Value);
    }
}
