using System.Buffers.Binary;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using Xcos.ML.Images;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The image row of the bad-input matrix: each case is a file a user could give, and what loading it must do.</summary>
public sealed class ImageInputMatrixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-img-matrix").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // A face-sized image with texture, so that a cut file loses real scan data.
    internal static byte[] Picture(IImageEncoder encoder, int w = 64, int h = 48)
    {
        using var img = new Image<Rgb24>(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                img[x, y] = new Rgb24((byte)(x * 4), (byte)(y * 5), (byte)((x * y) % 251));
        using var ms = new MemoryStream();
        img.Save(ms, encoder);
        return ms.ToArray();
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static InvalidDataException Refused(string path, FaceStatus status)
    {
        var e = Assert.Throws<InvalidDataException>(() => ImageIO.Load(path));
        Assert.Equal(status, ImageLoadFailure.StatusOf(e));
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void PngCutInHalfIsTruncated()
    {
        var png = Picture(new PngEncoder());
        var e = Refused(Write("half.png", png[..(png.Length / 2)]), FaceStatus.TruncatedImage);
        Assert.Contains("truncated PNG", e.Message);
    }

    [Fact]
    public void PngWithoutIendIsTruncated()
    {
        var png = Picture(new PngEncoder());
        var e = Refused(Write("no-iend.png", png[..^12]), FaceStatus.TruncatedImage);
        Assert.Contains("IEND", e.Message);
    }

    [Fact]
    public void PngWithWholeChunksButMissingScanlinesIsTruncated()
    {
        // IDAT re-framed with a valid CRC around half of its zlib stream: the chunk walk passes, the scanline count does not
        var png = Picture(new PngEncoder { CompressionLevel = PngCompressionLevel.NoCompression });
        int pos = 8;
        while (System.Text.Encoding.ASCII.GetString(png, pos + 4, 4) != "IDAT") pos += 12 + (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
        int len = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
        var half = png.AsSpan(pos + 8, len / 2).ToArray();
        var chunk = new byte[12 + half.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)half.Length);
        "IDAT"u8.CopyTo(chunk.AsSpan(4));
        half.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + half.Length), Crc32(chunk.AsSpan(4, 4 + half.Length)));
        var cut = png[..pos].Concat(chunk).Concat(png[(pos + 12 + len)..]).ToArray();
        var e = Refused(Write("short-idat.png", cut), FaceStatus.TruncatedImage);
        Assert.Contains("scanline bytes", e.Message);
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    [Fact]
    public void InterlacedAndPalettePngsLoad()
    {
        Assert.Equal(64, ImageIO.Load(Write("adam7.png", Picture(new PngEncoder { InterlaceMethod = PngInterlaceMode.Adam7 }))).Width);
        Assert.Equal(64, ImageIO.Load(Write("palette.png", Picture(new PngEncoder { ColorType = PngColorType.Palette }))).Width);
        Assert.Equal(7, ImageIO.Load(Write("odd.png", Picture(new PngEncoder { InterlaceMethod = PngInterlaceMode.Adam7, BitDepth = PngBitDepth.Bit16 }, 7, 3))).Width);
    }

    [Fact]
    public void JpegCutInHalfIsTruncated()
    {
        var jpg = Picture(new JpegEncoder { Quality = 90 });
        var e = Refused(Write("half.jpg", jpg[..(jpg.Length / 2)]), FaceStatus.TruncatedImage);
        Assert.Contains("truncated JPEG", e.Message);
    }

    [Fact]
    public void JpegWithoutEoiIsTruncated()
    {
        var jpg = Picture(new JpegEncoder());
        Assert.Equal([0xFF, 0xD9], jpg[^2..]);
        Refused(Write("no-eoi.jpg", jpg[..^2]), FaceStatus.TruncatedImage);
    }

    [Fact]
    public void JpegWithBytesAfterEoiLoads()
    {
        var jpg = Picture(new JpegEncoder()).Concat(new byte[] { 0, 1, 2, 3 }).ToArray();
        Assert.Equal(48, ImageIO.Load(Write("trailer.jpg", jpg)).Height);
    }

    [Fact]
    public void RealPhotoCutAtTwoThirdsIsTruncated()
    {
        var photo = Directory.GetFiles(DevPhotos, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        var jpg = File.ReadAllBytes(photo);
        Assert.True(ImageIO.Load(Write("whole.jpg", jpg)).Width > 0);
        Refused(Write("cut.jpg", jpg[..(jpg.Length * 2 / 3)]), FaceStatus.TruncatedImage);
    }

    private static string DevPhotos => Path.Combine(DevFaces.Root, "photos");

    [Fact]
    public void BmpAndWebpShorterThanTheirHeaderSayAreTruncated()
    {
        var bmp = Picture(new BmpEncoder());
        Assert.Equal(64, ImageIO.Load(Write("ok.bmp", bmp)).Width);
        Refused(Write("half.bmp", bmp[..(bmp.Length / 2)]), FaceStatus.TruncatedImage);
        var webp = Picture(new WebpEncoder { FileFormat = WebpFileFormatType.Lossless });
        Assert.Equal(64, ImageIO.Load(Write("ok.webp", webp)).Width);
        Refused(Write("half.webp", webp[..(webp.Length / 2)]), FaceStatus.TruncatedImage);
    }

    [Fact]
    public void EmptyAndTextFilesAreUndecodable()
    {
        Refused(Write("empty.png", []), FaceStatus.Undecodable);
        Refused(Write("notes.jpg", "not an image"u8.ToArray()), FaceStatus.Undecodable);
    }

    [Fact]
    public void DirectoryIsNamedAsADirectory()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_dir, "face.jpg")).FullName;
        var e = Assert.Throws<FileNotFoundException>(() => ImageIO.Load(sub));
        Assert.Contains(sub, e.Message);
        Assert.Contains("is a directory", e.Message);
        Assert.Equal(FaceStatus.MissingFile, ImageLoadFailure.StatusOf(e));
    }

    [Fact]
    public void MissingFileSaysNotFound()
    {
        var path = Path.Combine(_dir, "absent.png");
        var e = Assert.Throws<FileNotFoundException>(() => ImageIO.Load(path));
        Assert.Contains("not found", e.Message);
        Assert.Equal(FaceStatus.MissingFile, ImageLoadFailure.StatusOf(e));
    }

    [Fact]
    public void OverBudgetImageReportsImageTooLarge()
    {
        var e = Assert.Throws<InvalidDataException>(() => ImageIO.Load(Picture(new PngEncoder()), new ImageLoadOptions { MaxPixels = 100 }, "big.png"));
        Assert.Equal(FaceStatus.ImageTooLarge, ImageLoadFailure.StatusOf(e));
    }

    [Fact]
    public void EveryRealPhotoOfTheDevSetPassesTheCheck()
    {
        // no false alarms on camera JPEGs (EXIF thumbnails, restart markers) from the shared set
        var root = DevPhotos;
        var files = Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase)).ToArray();
        Assert.True(files.Length >= 50, $"{files.Length} photos under {root}");
        foreach (var f in files) Assert.True(ImageTruncation.Find(File.ReadAllBytes(f)) is null, f);
    }
}
