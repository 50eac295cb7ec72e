using System.Diagnostics;

namespace Xcos.TestUtilities;

/// <summary>
/// Runs tests/Xcos.ML.DeployCheck (a process that references Xcos.ML only) on a saved model and a pair TSV. A test project
/// that uses it builds DeployCheck through a project reference with ReferenceOutputAssembly="false".
/// </summary>
public static class DeployCheckProcess
{
    /// <summary>tests/Xcos.ML.DeployCheck's build output for the calling test project's configuration.</summary>
    public static string Dll()
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = testDir.Name, configuration = testDir.Parent!.Name;
        for (var d = testDir; d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln")))
            {
                var dll = Path.Combine(d.FullName, "tests", "Xcos.ML.DeployCheck", "bin", configuration, tfm, "Xcos.ML.DeployCheck.dll");
                Assert.True(File.Exists(dll), $"{dll} not found; build tests/Xcos.ML.DeployCheck");
                return dll;
            }
        throw new DirectoryNotFoundException("Xcos.ML.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>DeployCheck with <paramref name="args"/>, its standard output and error redirected.</summary>
    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Dll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Scores <paramref name="tsv"/> with the model at <paramref name="zip"/> in a new process.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string zip, string tsv)
    {
        using var p = Process.Start(StartInfo(zip, tsv))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("DeployCheck " + zip); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
