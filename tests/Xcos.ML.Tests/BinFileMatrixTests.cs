using Xcos.ML.Data;
using Xcos.ML.Images;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The InsightFace .bin row of the bad-input matrix: cut, foreign and mis-shaped pickles, and a cut image inside a valid pickle.</summary>
public sealed class BinFileMatrixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-bin-matrix").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Good => File.ReadAllBytes(Fixtures.Path("pairs_protocol2.bin"));

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.99)]
    public void CutFileIsRefusedNamingIt(double keep)
    {
        var path = Write($"cut{keep}.bin", Good[..(int)(Good.Length * keep)]);
        var e = Assert.Throws<InvalidDataException>(() => PairSetReader.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void PickleOfAForeignClassIsRefusedWithoutRunningIt()
    {
        // protocol 2: GLOBAL os.system, a string argument, REDUCE: a hostile file would run a command
        var pickle = new byte[] { 0x80, 0x02 }.Concat("cos\nsystem\n"u8.ToArray()).Concat("X\x05\0\0\0touch"u8.ToArray())
            .Concat(new byte[] { 0x85, (byte)'R', (byte)'.' }).ToArray();
        var path = Write("hostile.bin", pickle);
        var e = Assert.Throws<InvalidDataException>(() => PairSetReader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("os", e.Message);
    }

    [Fact]
    public void WrongStructureIsRefusedNamingIt()
    {
        // a pickled list [1, 2, 3] instead of (bins, issame_list)
        var pickle = new byte[] { 0x80, 0x02, (byte)']', (byte)'(', (byte)'K', 1, (byte)'K', 2, (byte)'K', 3, (byte)'e', (byte)'.' };
        var path = Write("list.bin", pickle);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => PairSetReader.Load(path)).Message);
    }

    [Fact]
    public void CutImageInsideAValidPickleIsTruncatedNamingThePair()
    {
        var set = PairSetReader.Load(Fixtures.Path("pairs_protocol2.bin"));
        var (a, _) = set.ReadPair(0);
        var e = Assert.Throws<InvalidDataException>(() => ImageIO.Load(a[..(a.Length / 2)], name: $"{set.Source} pair 1 image 1"));
        Assert.Equal(FaceStatus.TruncatedImage, ImageLoadFailure.StatusOf(e));
        Assert.Contains("pair 1 image 1", e.Message);
    }
}
