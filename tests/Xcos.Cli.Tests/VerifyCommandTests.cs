using System.Text.Json;
using Xcos.ML.Data;

namespace Xcos.Cli.Tests;

public class VerifyCommandTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AlignedVerifyReproducesFixture(int pair)
    {
        var dir = Fixtures.Path("xcos_tiny");
        var (code, stdout, stderr) = CliProcess.Run("verify",
            Path.Combine(dir, $"pair{pair}_image1.png"), Path.Combine(dir, $"pair{pair}_image2.png"),
            "--checkpoint", Path.Combine(dir, "checkpoint.pth"), "--arch", "ir_se", "--stages", "1,1,1,1", "--aligned", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(Npy.Read(Path.Combine(dir, "xcos.npy")).AsFloat32()[pair], root.GetProperty("score").GetSingle(), 1e-4);
        Assert.Equal(Npy.Read(Path.Combine(dir, "target_cos.npy")).AsFloat32()[pair], root.GetProperty("cosine").GetSingle(), 1e-4);
        Assert.Equal("ok", root.GetProperty("status").GetString());
        Assert.Equal("target", root.GetProperty("cosine_source").GetString());
        Assert.Equal("xcos", root.GetProperty("decided_by").GetString());
        Assert.Equal("undecided", root.GetProperty("decision").GetString());  // no --threshold
        Assert.Equal(JsonValueKind.Null, root.GetProperty("same").ValueKind);
        var cos = Npy.Read(Path.Combine(dir, "cos_map.npy")).AsFloat32();
        var att = Npy.Read(Path.Combine(dir, "attention.npy")).AsFloat32();
        var cosRows = root.GetProperty("cos_map").EnumerateArray().ToArray();
        var attRows = root.GetProperty("attention").EnumerateArray().ToArray();
        Assert.Equal(7, cosRows.Length);
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 7; c++)
            {
                Assert.Equal(cos[pair * 49 + r * 7 + c], cosRows[r][c].GetSingle(), 1e-4);
                Assert.Equal(att[pair * 49 + r * 7 + c], attRows[r][c].GetSingle(), 1e-4);
            }
    }

    [Fact]
    public void MissingCheckpointIsAFailureWithOneLine()
    {
        var dir = Fixtures.Path("xcos_tiny");
        var (code, _, stderr) = CliProcess.Run("verify", Path.Combine(dir, "pair0_image1.png"), Path.Combine(dir, "pair0_image2.png"),
            "--checkpoint", Path.Combine(dir, "no-such.pth"), "--aligned", "--json");
        Assert.Equal(1, code);
        Assert.Contains("no-such.pth", stderr);
    }

    [Fact]
    public void UnknownOptionIsUsageError()
    {
        var (code, _, stderr) = CliProcess.Run("verify", "--no-such-option");
        Assert.Equal(2, code);
        Assert.Contains("xcos:", stderr);
    }

    [Fact]
    public void WrongSizeImageIsRefusedByName()
    {
        var dir = Fixtures.Path("xcos_tiny");
        var big = Fixtures.Path("align_source.png");
        var (code, _, stderr) = CliProcess.Run("verify", big, Path.Combine(dir, "pair0_image2.png"),
            "--checkpoint", Path.Combine(dir, "checkpoint.pth"), "--aligned");
        Assert.Equal(1, code);
        Assert.Contains("align_source.png", stderr);
        Assert.Contains("112x112", stderr);
    }
}
