namespace Xcos.Cli.Tests;

/// <summary>What the CLI tells a person about real photos (needs the real models and ../shared).</summary>
public class CliPhotoMessageTests
{
    [CliDevFacesFact]
    public void VerifyTextSaysWhenSeveralFacesWereFoundAndWhichWasUsed()
    {
        var photos = Path.Combine(DevFaces.Dir()!, "photos", "Tony_Blair");
        // Tony_Blair_0001.jpg shows a second face at the border.
        var (code, stdout, stderr) = CliProcess.Run("verify", Path.Combine(photos, "Tony_Blair_0001.jpg"), Path.Combine(photos, "Tony_Blair_0002.jpg"));
        Assert.True(code == 0, stderr);
        Assert.Contains("Tony_Blair_0001.jpg: 2 faces found, used the largest", stdout);
    }

    [CliDevFacesFact]
    public void BinWithoutAlignedSaysWhyNoPairCouldBeScored()
    {
        // .bin faces are aligned 112x112 crops: the detector finds no face in them, and the error says to add --aligned.
        var (code, _, stderr) = CliProcess.Run("eval", "--pairs", Fixtures.Path("pairs_py2.bin"), "--json");
        Assert.Equal(1, code);
        Assert.Contains("pairs_py2.bin", stderr);
        Assert.Contains("--aligned", stderr);
    }
}
