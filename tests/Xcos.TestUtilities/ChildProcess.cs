using System.Diagnostics;

namespace Xcos.TestUtilities;

/// <summary>Runs another process from a test (a `dotnet` build, pack or app) with a time limit and its output captured.</summary>
public static class ChildProcess
{
    /// <summary>`dotnet ARGS` in <paramref name="workingDirectory"/>, without the MSBuild settings of the `dotnet test` host, which must not leak into that build.</summary>
    public static ProcessStartInfo Dotnet(string workingDirectory, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH").ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        return psi;
    }

    /// <summary>Starts <paramref name="psi"/> and waits up to <paramref name="limit"/>; a process past it is killed and a <see cref="TimeoutException"/> names it.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(ProcessStartInfo psi, TimeSpan limit)
    {
        ArgumentNullException.ThrowIfNull(psi);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit)) { p.Kill(true); throw new TimeoutException($"{Describe(psi)} ran past {limit}"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>"FILE ARGS", for messages.</summary>
    public static string Describe(ProcessStartInfo psi) => $"{psi.FileName} {string.Join(' ', psi.ArgumentList)}";
}
