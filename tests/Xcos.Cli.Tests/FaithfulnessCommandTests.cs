using System.Text.Json;
using Xcos.Cli.Commands;
using Xcos.ML.Images;

namespace Xcos.Cli.Tests;

/// <summary>`xcos faithfulness`: the shared model options, snake_case JSON, and its refusal of faces that are not aligned.</summary>
public sealed class FaithfulnessCommandTests
{
    [Fact]
    public void Command_RejectsFacesThatAreNotAligned112()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xcos-faith-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            ImageIO.SavePng(new RgbImage(50, 60), Path.Combine(dir, "small.png"));
            var tsv = Path.Combine(dir, "pairs.tsv");
            File.WriteAllText(tsv, "small.png\tsmall.png\t1\n");
            var e = Assert.Throws<InvalidDataException>(() => FaithfulnessCommand.Create().Parse([
                "--pairs", tsv, "--checkpoint", Fixtures.Path("xcos_tiny", "checkpoint.pth"),
                "--stages", "1,1,1,1", "--target-arch", "ir", "--json"]).Invoke(new System.CommandLine.InvocationConfiguration { EnableDefaultExceptionHandler = false }));
            Assert.Contains("small.png", e.Message);
            Assert.Contains("112x112", e.Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void CheckpointModeReadsTheArchitectureFromTheCheckpointAndWritesSnakeCaseJson()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-faith").FullName;
        var tiny = Fixtures.Path("xcos_tiny");
        var tsv = Path.Combine(dir, "pairs.tsv");
        // one same and one different pair of the fixture
        File.WriteAllLines(tsv, ["file1\tfile2\tsame", "pair0_image1.png\tpair0_image2.png\t1", "pair2_image1.png\tpair2_image2.png\t0"]);
        // no --arch: the fixture is not the old default ir_se50, so this passes only when the checkpoint decides
        var (code, stdout, stderr) = CliProcess.Run("faithfulness", "--pairs", tsv, "--root", tiny, "--checkpoint", Path.Combine(tiny, "checkpoint.pth"),
            "--patches-per-step", "25", "--random-orders", "1", "--fill", "blur", "--occlusion", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(2, root.GetProperty("pairs").GetInt32());
        Assert.Equal(25, root.GetProperty("patches_per_step").GetInt32());
        Assert.Equal(1, root.GetProperty("random_orders").GetInt32());
        Assert.Equal("blur", root.GetProperty("fill").GetString());
        Assert.Equal("grid", root.GetProperty("cosine").GetString());
        Assert.Equal("checkpoint", root.GetProperty("mode").GetString());
        Assert.Equal(1, root.GetProperty("same_pairs").GetInt32());
        Assert.Equal(1, root.GetProperty("different_pairs").GetInt32());
        Assert.Equal(tsv, root.GetProperty("pair_file").GetString());
        foreach (var m in new[] { "xcos", "gradcam", "random" })
            foreach (var k in new[] { "deletion", "insertion", "deletion_cosine", "insertion_cosine" })
                Assert.InRange(root.GetProperty("methods").GetProperty(m).GetProperty(k).GetDouble(), -1, 1);
        Assert.True(root.GetProperty("by_label").TryGetProperty("same", out _));
        var series = root.GetProperty("occlusion").GetProperty("series")[0];
        Assert.Equal(5, series.GetProperty("accuracy_mean").GetArrayLength());
        Assert.Equal("black", root.GetProperty("occlusion").GetProperty("fill").GetString());
        Assert.DoesNotContain("patchesPerStep", stdout);
    }

    [Fact]
    public void PhotoModeTakesTheModelsFolderLikeTheOtherCommands()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-faith").FullName;
        var tsv = Path.Combine(dir, "pairs.tsv");
        File.WriteAllText(tsv, "a.jpg\tb.jpg\t1\n");
        var missing = Path.Combine(dir, "no-models");
        var (code, _, stderr) = CliProcess.Run("faithfulness", "--pairs", tsv, "--models-dir", missing);
        Assert.True(code == 1, stderr);
        Assert.Contains(missing, stderr);
        // the old flag of this command alone is gone
        Assert.Equal(2, CliProcess.Run("faithfulness", "--pairs", tsv, "--models", missing).ExitCode);
    }

    [Theory]
    [InlineData("--fill", "stripes", "--fill 'stripes': expected mean or blur")]
    [InlineData("--cosine", "flat", "--cosine 'flat': expected grid or target")]
    public void AnUnknownModeIsAUsageErrorListingTheChoices(string option, string value, string message)
    {
        var tiny = Fixtures.Path("xcos_tiny");
        var (code, _, stderr) = CliProcess.Run("faithfulness", "--pairs", Path.Combine(tiny, "missing.tsv"), "--checkpoint", Path.Combine(tiny, "checkpoint.pth"), option, value);
        Assert.True(code == 2, stderr);
        Assert.Contains(message, stderr);
    }
}
