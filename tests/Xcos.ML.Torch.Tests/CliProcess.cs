using System.Diagnostics;
using Xunit;

namespace Xcos.ML.Torch.Tests;

/// <summary>Runs the built `xcos` CLI (xcos.dll, copied into this test output) as a separate process.</summary>
internal static class CliProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "xcos.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("xcos " + string.Join(' ', args)); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>tests/Xcos.ML.DeployCheck's build output for this configuration (built through the project reference).</summary>
    public static string DeployCheckDll()
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

    /// <summary>Runs tests/Xcos.ML.DeployCheck (a process that references Xcos.ML only) on a saved model and a pair TSV.</summary>
    public static (int ExitCode, string Stdout, string Stderr) DeployCheck(string zip, string tsv)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DeployCheckDll());
        psi.ArgumentList.Add(zip);
        psi.ArgumentList.Add(tsv);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("DeployCheck " + zip); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
