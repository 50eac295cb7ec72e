using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;
using Xunit.Abstractions;

namespace Xcos.Notebooks.Tests;

// Every notebook changes the process's working folder and environment: one at a time.
[CollectionDefinition("Notebooks", DisableParallelization = true)]
public sealed class NotebookCollection { }

/// <summary>
/// Runs each notebook under notebooks/ cell by cell in an in-process C# kernel (.NET Interactive), with
/// XCOS_NOTEBOOK_QUICK=1 so the notebooks shrink their work, and fails on the first failing cell naming the notebook and cell.
/// </summary>
[Collection("Notebooks")]
public sealed class NotebookTests(ITestOutputHelper output)
{
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

        string previousDir = Environment.CurrentDirectory;
        string? previousQuick = Environment.GetEnvironmentVariable("XCOS_NOTEBOOK_QUICK");
        // the notebooks #r the build by a path relative to their folder, as a Jupyter kernel started there sees it
        Environment.CurrentDirectory = NotebookDirectory;
        Environment.SetEnvironmentVariable("XCOS_NOTEBOOK_QUICK", "1");
        try
        {
            using var kernel = new CSharpKernel().UseKernelHelpers();
            for (int i = 0; i < cells.Count; i++)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = await kernel.SendAsync(new SubmitCode(ForThisBuild(cells[i].Contents)));
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
        }
        finally
        {
            Environment.CurrentDirectory = previousDir;
            Environment.SetEnvironmentVariable("XCOS_NOTEBOOK_QUICK", previousQuick);
        }
    }

    /// <summary>
    /// The notebooks #r the CLI's Debug output (what `dotnet build src/Xcos.Cli` makes for a reader); under test they
    /// load the configuration this test was built in (CI runs Release), which built the CLI beside it.
    /// </summary>
    private static string ForThisBuild(string code)
    {
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        return code.Replace("/bin/Debug/", $"/bin/{configuration}/", StringComparison.Ordinal);
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
