using System.Runtime.InteropServices;
using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>RGB8 buffers to and from Skia bitmaps and PNG bytes, and the atomic file write shared by the figures.</summary>
internal static class RgbPng
{
    /// <summary>Wraps interleaved RGB8 as an opaque RGBA bitmap (caller disposes).</summary>
    public static SKBitmap ToBitmap(byte[] rgb, int width, int height, string what = "image")
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (width <= 0 || height <= 0) throw new ArgumentException($"{what}: size {width}x{height} must be positive");
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"{what}: expected {width}x{height}x3 = {width * height * 3} RGB8 bytes, got {rgb.Length}");
        var rgba = new byte[width * height * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i]; rgba[j + 1] = rgb[i + 1]; rgba[j + 2] = rgb[i + 2]; rgba[j + 3] = 255;
        }
        var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        Marshal.Copy(rgba, 0, bmp.GetPixels(), rgba.Length);
        bmp.NotifyPixelsChanged();
        return bmp;
    }

    /// <summary>Encodes interleaved RGB8 as PNG.</summary>
    public static byte[] EncodeRgb(byte[] rgb, int width, int height)
    {
        using var bmp = ToBitmap(rgb, width, height);
        return Encode(bmp);
    }

    public static byte[] Encode(SKBitmap bmp)
    {
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100)
            ?? throw new InvalidOperationException("SkiaSharp could not encode the PNG");
        return data.ToArray();
    }

    /// <summary>Decodes a PNG (or any Skia-readable image) to interleaved RGB8.</summary>
    public static (byte[] Rgb, int Width, int Height) DecodeRgb(byte[] encoded, string what = "image")
    {
        using var src = SKBitmap.Decode(encoded) ?? throw new InvalidDataException($"{what}: not a decodable image ({encoded.Length} bytes)");
        using var bmp = src.Copy(SKColorType.Rgba8888) ?? throw new InvalidDataException($"{what}: cannot convert to RGBA8888");
        var rgba = new byte[bmp.Width * bmp.Height * 4];
        Marshal.Copy(bmp.GetPixels(), rgba, 0, rgba.Length);
        var rgb = new byte[bmp.Width * bmp.Height * 3];
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
        }
        return (rgb, bmp.Width, bmp.Height);
    }

    /// <summary>Writes through <see cref="Data.AtomicFile"/> (temporary file next to the link-resolved target, then a rename), so readers never see half a file.</summary>
    public static void WriteAtomic(string path, byte[] bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        Data.AtomicFile.Write(path, s => s.Write(bytes));
    }
}
