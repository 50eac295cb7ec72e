using Xcos.ML.Data;
using Xcos.ML.Figures;
using Xcos.ML.Images;

namespace Xcos.ML.Tests;

public sealed class MaskedFacesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-mask-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Source()
    {
        var src = Path.Combine(_dir, "src");
        for (int id = 0; id < 2; id++)
        {
            Directory.CreateDirectory(Path.Combine(src, $"person{id}"));
            var pixels = Enumerable.Repeat((byte)200, 112 * 112 * 3).ToArray();
            File.WriteAllBytes(Path.Combine(src, $"person{id}", "a.png"), RgbPng.EncodeRgb(pixels, 112, 112));
        }
        return src;
    }

    [Fact]
    public void EveryImageIsCopiedWithTheRequestedShareOfItsPixelsBlackened()
    {
        var src = Source();
        var dst = Path.Combine(_dir, "dst");
        int n = MaskedFaces.WriteMaskedCopy(ImageFolder.Load(src), dst, 0.25, seed: 5);
        Assert.Equal(2, n);
        foreach (var id in new[] { "person0", "person1" })
        {
            var img = ImageIO.Load(Path.Combine(dst, id, "a_masked25.png"));
            int black = 0;
            for (int i = 0; i < 112 * 112; i++) if (img.Pixels[3 * i] == 0) black++;
            Assert.Equal((int)Math.Round(0.25 * 112 * 112), black);
        }
    }

    [Fact]
    public void AFractionOutsideZeroToOneIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => MaskedFaces.WriteMaskedCopy(ImageFolder.Load(Source()), Path.Combine(_dir, "dst"), 1.5, 0));
        Assert.Contains("1.5", e.Message);
    }

    [Fact]
    public void An_output_equal_to_or_inside_the_source_folder_is_refused_and_nothing_is_written()
    {
        var src = Source();
        var link = Path.Combine(_dir, "link");
        Directory.CreateSymbolicLink(link, src);
        foreach (var dst in new[] { src, Path.Combine(src, "sub"), Path.Combine(src, "person0"), Path.Combine(link, "new", "deeper") })
        {
            var e = Assert.Throws<ArgumentException>(() => MaskedFaces.WriteMaskedCopy(ImageFolder.Load(src), dst, 0.25, 0));
            Assert.Contains("into the image folder it is made from", e.Message);
        }
        Assert.Equal(2, Directory.GetFiles(src, "*", SearchOption.AllDirectories).Length);   // still the two originals
        Assert.Equal(2, ImageFolder.Load(src).Count);
    }
}
