using System.Text.Json;
using Xcos.Cli.Commands;
using Xcos.ML.Images;

namespace Xcos.Cli.Tests;

/// <summary>`xcos faithfulness`, run in process through its command.</summary>
public sealed class FaithfulnessCommandTests
{
    [Fact]
    public void Command_PrintsOneJsonObjectWithPerMethodAucsAndThePairCount()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xcos-faith-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var tsv = Path.Combine(dir, "pairs.tsv");
            File.WriteAllLines(tsv, Enumerable.Range(0, 4).Select(i => $"pair{i}_image1.png\tpair{i}_image2.png\t{(i < 2 ? 1 : 0)}"));
            var outWriter = new StringWriter();
            var previous = Console.Out;
            int rc;
            try
            {
                Console.SetOut(outWriter);
                rc = FaithfulnessCommand.Create().Parse([
                    "--pairs", tsv, "--root", Fixtures.Path("xcos_tiny"), "--checkpoint", Fixtures.Path("xcos_tiny", "checkpoint.pth"),
                    "--arch", "ir_se", "--stages", "1,1,1,1", "--target-arch", "ir", "--max-pairs", "2",
                    "--patches-per-step", "25", "--random-orders", "1", "--threads", "2", "--json"]).Invoke();
            }
            finally { Console.SetOut(previous); }
            Assert.Equal(0, rc);
            var lines = outWriter.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var json = JsonDocument.Parse(Assert.Single(lines)).RootElement;
            Assert.Equal(2, json.GetProperty("pairs").GetInt32());
            var methods = json.GetProperty("methods");
            foreach (var m in new[] { "xcos", "gradcam", "random" })
            {
                var e = methods.GetProperty(m);
                foreach (var k in new[] { "deletion", "insertion", "deletionCosine", "insertionCosine" })
                    Assert.True(double.IsFinite(e.GetProperty(k).GetDouble()), $"{m}.{k}");
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

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
}
