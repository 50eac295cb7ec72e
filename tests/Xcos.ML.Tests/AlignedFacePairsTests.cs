using Xcos.ML.Explain;
using Xcos.ML.Images;
using Xunit;

namespace Xcos.ML.Tests;

public sealed class AlignedFacePairsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-aligned-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Face(string name, int side, byte value)
    {
        var img = new RgbImage(side, side);
        Array.Fill(img.Pixels, value);
        ImageIO.SavePng(img, Path.Combine(_dir, name));
    }

    [Fact]
    public void ReadsTheFirstPairsWithTheirLabels()
    {
        Face("a.png", 112, 10);
        Face("b.png", 112, 200);
        var tsv = Path.Combine(_dir, "pairs.tsv");
        File.WriteAllLines(tsv, ["a.png\tb.png\t1", "b.png\ta.png\t0", "a.png\ta.png\t1"]);
        var pairs = AlignedFacePairs.Load(tsv, maxPairs: 2);
        Assert.Equal(2, pairs.Count);
        Assert.Equal([true, false], pairs.Labels);
        Assert.Equal(10, pairs.Faces[0].Face1.Pixels[0]);
        Assert.Equal(200, pairs.Faces[0].Face2.Pixels[0]);
        Assert.Equal(10, pairs.Faces[1].Face2.Pixels[0]);
    }

    [Fact]
    public void AnImageOfAnotherSizeIsNamedWithItsRow()
    {
        Face("a.png", 112, 10);
        Face("big.png", 120, 10);
        var tsv = Path.Combine(_dir, "pairs.tsv");
        File.WriteAllLines(tsv, ["a.png\ta.png\t1", "a.png\tbig.png\t0"]);
        var e = Assert.Throws<InvalidDataException>(() => AlignedFacePairs.Load(tsv));
        Assert.Contains("row 2, image 'big.png' is 120x120; aligned 112x112 faces expected", e.Message);
    }
}
