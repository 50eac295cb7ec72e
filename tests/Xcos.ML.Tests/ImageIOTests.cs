using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using Xcos.ML.Images;
using Xunit;

namespace Xcos.ML.Tests;

public class ImageIOTests
{
    private static byte[] Encode(Image image, SixLabors.ImageSharp.Formats.IImageEncoder encoder)
    {
        using var ms = new MemoryStream();
        image.Save(ms, encoder);
        return ms.ToArray();
    }

    [Fact]
    public void GreyPngBecomesEqualRgb()
    {
        using var img = new Image<L8>(3, 2);
        img[0, 0] = new L8(0); img[1, 0] = new L8(77); img[2, 1] = new L8(255);
        var rgb = ImageIO.Load(Encode(img, new PngEncoder()), name: "grey.png");
        Assert.Equal((3, 2), (rgb.Width, rgb.Height));
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(77, rgb[1, 0, c]);
            Assert.Equal(255, rgb[2, 1, c]);
            Assert.Equal(0, rgb[0, 0, c]);
        }
    }

    [Fact]
    public void AlphaIsDroppedNotComposited()
    {
        using var img = new Image<Rgba32>(2, 1);
        img[0, 0] = new Rgba32(10, 20, 30, 0);
        img[1, 0] = new Rgba32(200, 100, 50, 128);
        var rgb = ImageIO.Load(Encode(img, new PngEncoder { ColorType = PngColorType.RgbWithAlpha }));
        Assert.Equal(new byte[] { 10, 20, 30, 200, 100, 50 }, rgb.Pixels);
    }

    [Fact]
    public void SixteenBitPngScalesTo8Bit()
    {
        using var img = new Image<Rgb48>(2, 1);
        img[0, 0] = new Rgb48(65535, 0, 0x8080);
        img[1, 0] = new Rgb48(0x0101 * 17, 0xFFFF, 0);
        var bytes = Encode(img, new PngEncoder { BitDepth = PngBitDepth.Bit16, ColorType = PngColorType.Rgb });
        Assert.Equal(16, Image.Identify(bytes).PixelType.BitsPerPixel / 3);
        var rgb = ImageIO.Load(bytes);
        Assert.Equal(new byte[] { 255, 0, 128, 17, 255, 0 }, rgb.Pixels);
    }

    [Fact]
    public void ExifOrientationIsApplied()
    {
        // 16x8: left half red, right half blue. Orientation 6 = "rotate 90 degrees clockwise to display".
        using var img = new Image<Rgb24>(16, 8);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 16; x++)
                img[x, y] = x < 8 ? new Rgb24(255, 0, 0) : new Rgb24(0, 0, 255);
        img.Metadata.ExifProfile = new ExifProfile();
        img.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        var jpeg = Encode(img, new JpegEncoder { Quality = 95 });

        var upright = ImageIO.Load(jpeg, name: "rotated.jpg");
        Assert.Equal((8, 16), (upright.Width, upright.Height));
        Assert.True(upright[4, 3, 0] > 200 && upright[4, 3, 2] < 60, "top should be the red (left) half");
        Assert.True(upright[4, 12, 2] > 200 && upright[4, 12, 0] < 60, "bottom should be the blue (right) half");

        var raw = ImageIO.Load(jpeg, new ImageLoadOptions { ApplyExifOrientation = false });
        Assert.Equal((16, 8), (raw.Width, raw.Height));
    }

    // ImageSharp 2.1's encoder writes YCbCr when asked for Cmyk, so no CMYK JPEG can be generated here.
    [Theory]
    [InlineData(JpegColorType.Luminance)]
    [InlineData(JpegColorType.Rgb)]
    public void JpegColourModesBecomeRgb(JpegColorType mode)
    {
        using var img = new Image<Rgb24>(16, 8);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 16; x++)
                img[x, y] = x < 8 ? new Rgb24(230, 40, 30) : new Rgb24(20, 60, 220);
        var jpeg = Encode(img, new JpegEncoder { Quality = 95, ColorType = mode });
        Assert.Equal(mode, Image.Identify(jpeg).Metadata.GetJpegMetadata().ColorType);
        var rgb = ImageIO.Load(jpeg, name: $"{mode}.jpg");
        Assert.Equal((16, 8), (rgb.Width, rgb.Height));
        if (mode == JpegColorType.Luminance)
        {
            Assert.Equal(rgb[3, 3, 0], rgb[3, 3, 2]);
            Assert.True(Math.Abs(rgb[3, 3, 0] - rgb[12, 3, 0]) > 10, "grey levels of the two halves should differ");
        }
        else
        {
            Assert.True(Math.Abs(rgb[3, 3, 0] - 230) < 12 && Math.Abs(rgb[3, 3, 2] - 30) < 12, $"left half {rgb[3, 3, 0]},{rgb[3, 3, 1]},{rgb[3, 3, 2]}");
            Assert.True(Math.Abs(rgb[12, 3, 0] - 20) < 12 && Math.Abs(rgb[12, 3, 2] - 220) < 12, $"right half {rgb[12, 3, 0]},{rgb[12, 3, 1]},{rgb[12, 3, 2]}");
        }
    }

    [Fact]
    public void CorruptBytesGiveInvalidDataNamingTheSource()
    {
        var junk = Enumerable.Range(0, 200).Select(i => (byte)(i * 37 + 11)).ToArray();
        var e = Assert.Throws<InvalidDataException>(() => ImageIO.Load(junk, name: "pair 7 image 1"));
        Assert.Contains("pair 7 image 1", e.Message);

        using var img = new Image<Rgb24>(32, 32);
        var png = Encode(img, new PngEncoder());
        png[20] ^= 0xFF; // break the IHDR chunk
        var path = Path.Combine(Path.GetTempPath(), $"xcos_corrupt_{Guid.NewGuid():N}.png");
        File.WriteAllBytes(path, png);
        try
        {
            var e2 = Assert.Throws<InvalidDataException>(() => ImageIO.Load(path));
            Assert.Contains(path, e2.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MissingFileIsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => ImageIO.Load("/nonexistent/xcos/face.png"));
    }

    [Fact]
    public void OverBudgetIsRefusedBeforeDecoding()
    {
        using var img = new Image<Rgb24>(100, 60);
        var png = Encode(img, new PngEncoder());
        var e = Assert.Throws<InvalidDataException>(() =>
            ImageIO.Load(png, new ImageLoadOptions { MaxPixels = 5_000 }, "big.png"));
        Assert.Contains("big.png", e.Message);
        Assert.Contains("100x60", e.Message);
        Assert.Equal(6000, ImageIO.Load(png, new ImageLoadOptions { MaxPixels = 6_000 }).Width * 60);

        // A header claiming 30000x30000 with no pixel data behind it: only the header is read.
        var huge = Encode(new Image<L8>(1, 1), new PngEncoder());
        WriteBigEndian(huge, 16, 30000); WriteBigEndian(huge, 20, 30000);
        var crc = Crc32(huge.AsSpan(12, 17));
        WriteBigEndian(huge, 29, crc);
        var e2 = Assert.Throws<InvalidDataException>(() => ImageIO.Load(huge, name: "bomb.png"));
        Assert.Contains("30000x30000", e2.Message);
    }

    [Fact]
    public void PngRoundTripIsLossless()
    {
        var px = Enumerable.Range(0, 5 * 4 * 3).Select(i => (byte)(i * 7)).ToArray();
        var img = new RgbImage(5, 4, px);
        using var ms = new MemoryStream();
        ImageIO.SavePng(img, ms);
        ms.Position = 0;
        var back = ImageIO.Load(ms);
        Assert.Equal(px, back.Pixels);
    }

    [Fact]
    public void NonSeekableStreamLoads()
    {
        var img = new RgbImage(3, 3, Enumerable.Range(0, 27).Select(i => (byte)(i * 9)).ToArray());
        using var ms = new MemoryStream();
        ImageIO.SavePng(img, ms);
        using var ns = new NonSeekable(ms.ToArray());
        Assert.Equal(img.Pixels, ImageIO.Load(ns).Pixels);
    }

    [Fact]
    public void MLImageRoundTrip()
    {
        var img = new RgbImage(4, 3, Enumerable.Range(0, 36).Select(i => (byte)(i * 7 + 1)).ToArray());
        using var ml = ImageIO.ToMLImage(img);
        Assert.Equal(Microsoft.ML.Data.MLPixelFormat.Bgra32, ml.PixelFormat);
        Assert.Equal((4, 3), (ml.Width, ml.Height));
        Assert.Equal(img.Pixels[2], ml.Pixels[0]); // B first
        Assert.Equal(img.Pixels, ImageIO.FromMLImage(ml).Pixels);
    }

    private static void WriteBigEndian(byte[] b, int at, uint v)
    {
        b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    private sealed class NonSeekable(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

public class FaceTensorTests
{
    private static RgbImage Gradient(int w, int h) =>
        new(w, h, Enumerable.Range(0, w * h * 3).Select(i => (byte)((i * 29 + 3) % 256)).ToArray());

    [Fact]
    public void DefaultIsXcosNormalisation()
    {
        var img = Gradient(5, 4);
        var t = FaceTensor.ToChw(img);
        Assert.Equal(3 * 20, t.Length);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++)
                for (int c = 0; c < 3; c++)
                {
                    float want = (img[x, y, c] / 255f - 0.5f) / 0.5f;
                    Assert.Equal(want, t[c * 20 + y * 5 + x], 1e-6f);
                }
        var ends = FaceTensor.ToChw(new RgbImage(1, 1, [0, 255, 128]));
        Assert.Equal(-1f, ends[0]);
        Assert.Equal(1f, ends[1]);
    }

    [Fact]
    public void CustomMeanStdBgrAndFlip()
    {
        var img = Gradient(6, 3);
        var opt = new FaceTensorOptions { Mean = 127f, Std = 128f, ChannelOrder = ChannelOrder.Bgr, HorizontalFlip = true };
        var t = FaceTensor.ToChw(img, opt);
        int plane = 18;
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 6; x++)
            {
                // Plane 0 is blue; column x of the tensor is column 5 - x of the image.
                Assert.Equal((img[5 - x, y, 2] - 127f) / 128f, t[0 * plane + y * 6 + x], 1e-6f);
                Assert.Equal((img[5 - x, y, 1] - 127f) / 128f, t[1 * plane + y * 6 + x], 1e-6f);
                Assert.Equal((img[5 - x, y, 0] - 127f) / 128f, t[2 * plane + y * 6 + x], 1e-6f);
            }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void FromChwInvertsToChw(bool bgr, bool flip)
    {
        var img = Gradient(7, 5);
        var opt = new FaceTensorOptions { ChannelOrder = bgr ? ChannelOrder.Bgr : ChannelOrder.Rgb, HorizontalFlip = flip };
        var back = FaceTensor.FromChw(FaceTensor.ToChw(img, opt), 7, 5, opt);
        Assert.Equal(img.Pixels, back.Pixels);
    }

    [Fact]
    public void WrongSizesAreRefused()
    {
        Assert.Throws<ArgumentException>(() => FaceTensor.FromChw(new float[10], 2, 2));
        Assert.Throws<ArgumentException>(() => FaceTensor.ToChw(Gradient(2, 2), new float[11]));
        Assert.Throws<ArgumentException>(() => FaceTensor.ToChw(Gradient(2, 2), new FaceTensorOptions { Std = 0 }));
    }
}
