namespace Xcos.Cli.Tests;

/// <summary>`xcos demo` as a newcomer runs it: the committed checkpoint, evaluated in a new process, gives its recorded figures.</summary>
public sealed class DemoCommandTests
{
    [Fact]
    public void TheDefaultDemoReproducesTheCommittedCheckpointsRecord()
    {
        string dir = Directory.CreateTempSubdirectory("xcos-demo-cli-").FullName;
        try
        {
            var (code, stdout, stderr) = CliProcess.Run(TimeSpan.FromMinutes(15), "demo", "--out", dir, "--threads", "2"); // about a minute on 2 idle cores; CI runs the test projects side by side
            Assert.True(code == 0, stderr);
            Assert.Contains("recorded with the checkpoint:", stdout);
            Assert.Contains(": the same, largest per-pair xCos difference", stdout);
            Assert.DoesNotContain("DIFFERENT", stdout);
            Assert.True(File.Exists(Path.Combine(dir, "xcos_pipeline.zip")), stdout);
            Assert.Contains("xcos demo: scoring", stderr); // progress goes to stderr, a line per stage when redirected
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
