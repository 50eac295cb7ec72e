using System.Diagnostics;

namespace Xcos.Cli.Tests;

/// <summary>Runs the built `xcos` CLI (xcos.dll, copied into this test output) as a separate process.</summary>
internal static class CliProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => Run(new Dictionary<string, string>(), args);

    /// <summary>Runs with extra environment variables.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string> environment, params string[] args)
        => Run(environment, TimeSpan.FromMinutes(5), args);

    /// <summary>Runs a command that does a whole workflow (the demo), with its own time limit.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(TimeSpan limit, params string[] args) => Run(new Dictionary<string, string>(), limit, args);

    private static (int ExitCode, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string> environment, TimeSpan limit, string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "xcos.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit)) { p.Kill(true); throw new TimeoutException("xcos " + string.Join(' ', args)); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
