namespace Xcos.Cli.Tests;

/// <summary>
/// Every command on junk input ends in one line on stderr and exit 1 (bad input) or 2 (usage): no stack trace,
/// no abort (exit 134), nothing on stdout that looks like an exception.
/// </summary>
public class CliJunkInputTests
{
    private static readonly string Dir = Prepare();

    // {dir} in an argument becomes the folder of junk files below.
    private static string Prepare()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-junk").FullName;
        var random = new Random(11);
        foreach (var name in new[] { "junk.pth", "junk.onnx", "junk.zip", "junk.bin", "junk.png", "junk.jpg" })
        {
            var bytes = new byte[700];
            random.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(dir, name), bytes);
        }
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not a model\n");
        File.WriteAllText(Path.Combine(dir, "pairs.tsv"), "a.png\tb.png\t1\n");
        Directory.CreateDirectory(Path.Combine(dir, "folder.png"));
        return dir;
    }

    public static TheoryData<int, string> Cases => new()
    {
        { 1, "inspect {dir}/junk.pth" },
        { 1, "inspect {dir}/notes.txt" },
        { 1, "inspect {dir}/junk.zip" },
        { 1, "inspect {dir}/junk.onnx" },
        { 1, "inspect {dir}/folder.png" },
        { 1, "inspect {dir}/absent.pth" },
        { 1, "eval --pairs {dir}/junk.bin --checkpoint {dir}/junk.pth" },
        { 1, "eval --pairs {dir}/pairs.tsv --checkpoint {dir}/junk.pth --aligned" },
        { 2, "eval --pairs {dir}/pairs.tsv --checkpoint {dir}/junk.pth --max-pairs -5" },
        { 1, "verify {dir}/junk.png {dir}/junk.jpg --aligned --checkpoint {dir}/junk.pth" },
        { 1, "verify {dir}/folder.png {dir}/junk.jpg --aligned --checkpoint {dir}/junk.pth" },
        { 1, "faithfulness --pairs {dir}/junk.bin --checkpoint {dir}/junk.pth" },
        { 2, "faithfulness --pairs {dir}/pairs.tsv --checkpoint {dir}/junk.pth --batch-size 0" },
        { 1, "export --checkpoint {dir}/junk.pth --format onnx --out {dir}/export" },
        { 1, "export --checkpoint {dir}/junk.pth --format mlnet --out {dir}/model.zip" },
        { 1, "train --data {dir}/notes.txt --out {dir}/run" },
        { 1, "train --data {dir} --out {dir}/run --resume {dir}/junk.zip" },
        { 2, "train --data {dir} --out {dir}/run --epochs -1" },
        { 2, "synth --out {dir}/synth --identities -5" },
        { 2, "bench --seconds -1" },
        { 2, "demo --out {dir}/demo --threads 0" },
        { 2, "demo --out {dir}/demo --identities 5" },
        { 2, "demo --out {dir}/demo --train --checkpoint {dir}/junk.pth" },
        { 1, "demo --out {dir}/demo --checkpoint {dir}/junk.pth" },
        { 1, "demo --out {dir}/demo --photos {dir}/absent" },
        { 2, "models nonsense" },
        { 2, "nonsense" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FailsInOneLineWithItsExitCode(int expected, string command)
    {
        var args = command.Replace("{dir}", Dir, StringComparison.Ordinal).Split(' ');
        var (code, stdout, stderr) = CliProcess.Run(args);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(code == expected, $"exit {code}, expected {expected}; stderr: {stderr}");
        Assert.True(lines.Length == 1, $"{lines.Length} lines on stderr: {stderr}");
        Assert.StartsWith("xcos: ", lines[0]);
        Assert.DoesNotContain("internal error", lines[0]);
        foreach (var text in new[] { stdout, stderr })
        {
            Assert.DoesNotContain("   at ", text);
            Assert.DoesNotContain("Unhandled exception", text);
            Assert.DoesNotContain("Exception:", text);
        }
    }

    [Fact]
    public void ABadFileIsNamedInTheMessage()
    {
        foreach (var name in new[] { "junk.pth", "notes.txt", "junk.zip", "junk.onnx" })
        {
            var path = Path.Combine(Dir, name);
            var (code, _, stderr) = CliProcess.Run("inspect", path);
            Assert.Equal(1, code);
            Assert.Contains(path, stderr);
        }
    }

    [Fact]
    public void DebugVariableAddsTheStackTrace()
    {
        var (code, _, stderr) = CliProcess.Run(new Dictionary<string, string> { ["XCOS_DEBUG"] = "1" }, "inspect", Path.Combine(Dir, "junk.pth"));
        Assert.Equal(1, code);
        Assert.Contains("   at ", stderr);
    }
}
