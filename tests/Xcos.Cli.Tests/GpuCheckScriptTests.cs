using System.Diagnostics;

namespace Xcos.Cli.Tests;

/// <summary>
/// scripts/gpu-check.sh on a machine without a GPU (CI's): every piece says so in one line, the last line says that
/// nothing ran on CUDA, and it exits 0, both without nvidia-smi and with one that finds no GPU.
/// </summary>
public class GpuCheckScriptTests
{
    private static string Script()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var s = Path.Combine(d.FullName, "scripts", "gpu-check.sh");
            if (File.Exists(s)) return s;
        }
        throw new FileNotFoundException("scripts/gpu-check.sh not found above " + AppContext.BaseDirectory);
    }

    private static (int Code, string[] Lines) Run(string path)
    {
        var psi = new ProcessStartInfo("/bin/bash", [Script()])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        psi.Environment.Clear();
        psi.Environment["PATH"] = path;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "gpu-check.sh did not finish in 60 s");
        Assert.Equal("", stderr.Result);
        return (p.ExitCode, stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData(false, "nvidia-smi not found")]
    [InlineData(true, "nvidia-smi lists no GPU")]
    public void Without_a_gpu_each_piece_says_so_in_one_line_and_the_script_exits_cleanly(bool fakeSmi, string why)
    {
        // a PATH with nothing on it, or with only an nvidia-smi that finds no device (as on a machine without the driver's GPU)
        if (OperatingSystem.IsWindows()) return;   // a bash script for the Linux GPU machines
        var bin = Directory.CreateTempSubdirectory("xcos-gpu-check").FullName;
        if (fakeSmi)
        {
            var smi = Path.Combine(bin, "nvidia-smi");
            File.WriteAllText(smi, "#!/bin/sh\necho 'No devices were found' >&2\nexit 6\n");
            File.SetUnixFileMode(smi, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var (code, lines) = Run(bin);
        Assert.Equal(0, code);
        Assert.Equal(
            [.. new[] { "restore", "parity", "train", "bench", "onnx" }.Select(p => $"gpu-check {p}: skipped, no NVIDIA GPU ({why})"),
             $"gpu-check: no NVIDIA GPU on this machine ({why}); nothing ran on CUDA."],
            lines);
    }
}
