using Microsoft.ML.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Xcos.ML.Images;

/// <summary>
/// Decodes images (JPEG, PNG, BMP, GIF, TGA, WebP via ImageSharp) into <see cref="RgbImage"/>, saves PNG,
/// and converts to and from ML.NET's <see cref="MLImage"/>.
/// </summary>
/// <remarks>
/// Every colour mode (grey, grey+alpha, palette, RGBA, 16-bit, CMYK/YCCK JPEG) becomes RGB8. Alpha is dropped,
/// not composited, as OpenCV's <c>imread(IMREAD_COLOR)</c> and PIL's <c>convert("RGB")</c> do, so aligned faces
/// match what the reference tooling saw.
/// </remarks>
public static class ImageIO
{
    /// <summary>Loads an image file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist, or the path is a directory (the message says which).</exception>
    /// <exception cref="InvalidDataException">The file is corrupt, truncated, not an image, or larger than <see cref="ImageLoadOptions.MaxPixels"/>; <see cref="ImageLoadFailure.StatusOf"/> tells which.</exception>
    public static RgbImage Load(string path, ImageLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) throw new FileNotFoundException($"'{path}' is a directory, not an image file", path);
        if (!File.Exists(path)) throw new FileNotFoundException($"image file '{path}' not found", path);
        using var stream = File.OpenRead(path);
        return Load(stream, options, path);
    }

    /// <summary>Loads an encoded image from bytes; <paramref name="name"/> labels errors (e.g. the pair index or archive entry).</summary>
    public static RgbImage Load(byte[] bytes, ImageLoadOptions? options = null, string name = "<bytes>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        return Load(stream, options, name);
    }

    /// <summary>Loads an encoded image from a stream (read from its current position); <paramref name="name"/> labels errors.</summary>
    public static RgbImage Load(Stream stream, ImageLoadOptions? options = null, string name = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= ImageLoadOptions.Default;
        // Identify then decode needs two passes over the data.
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        long start = stream.Position;
        try
        {
            IImageInfo? info = Image.Identify(stream);
            if (info == null)
                throw ImageLoadFailure.Create(name, FaceStatus.Undecodable, $"not a supported image format ({stream.Length - start} bytes)");
            long pixels = (long)info.Width * info.Height;
            if (info.Width <= 0 || info.Height <= 0)
                throw ImageLoadFailure.Create(name, FaceStatus.Undecodable, $"header gives an empty image ({info.Width}x{info.Height})");
            if (pixels > options.MaxPixels)
                throw ImageLoadFailure.Create(name, FaceStatus.ImageTooLarge,
                    $"image is {info.Width}x{info.Height} = {pixels:N0} pixels, over the budget of {options.MaxPixels:N0} (ImageLoadOptions.MaxPixels)");

            // the decoder fills what a cut file lacks, so the structure is checked first
            stream.Position = start;
            var encoded = new byte[stream.Length - start];
            stream.ReadExactly(encoded);
            if (ImageTruncation.Find(encoded) is { } why) throw ImageLoadFailure.Create(name, FaceStatus.TruncatedImage, why);
            using Image<Rgb24> image = Image.Load<Rgb24>(encoded);
            if (options.ApplyExifOrientation)
                image.Mutate(x => x.AutoOrient());
            var bytes = new byte[checked(image.Width * image.Height * 3)];
            image.CopyPixelDataTo(bytes);
            return new RgbImage(image.Width, image.Height, bytes);
        }
        // the decoder is the boundary to untrusted bytes: whatever it throws on a malformed file (fuzzing found
        // NullReferenceException in the JPEG decoder) is a file that cannot be decoded, not a crash
        catch (Exception e) when (e is not InvalidDataException and not OperationCanceledException)
        {
            throw ImageLoadFailure.Create(name, FaceStatus.Undecodable, $"cannot decode image: {e.Message}", e);
        }
    }

    /// <summary>Writes <paramref name="image"/> as a lossless 8-bit RGB PNG file.</summary>
    public static void SavePng(RgbImage image, string path)
    {
        using var stream = File.Create(path);
        SavePng(image, stream);
    }

    /// <summary>Writes <paramref name="image"/> as a lossless 8-bit RGB PNG to a stream.</summary>
    public static void SavePng(RgbImage image, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var img = Image.LoadPixelData<Rgb24>(image.Pixels, image.Width, image.Height);
        img.SaveAsPng(stream);
    }

    /// <summary>Converts to an ML.NET <see cref="MLImage"/> (BGRA32, opaque). The caller owns (disposes) the result.</summary>
    public static MLImage ToMLImage(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int n = image.Width * image.Height;
        var bgra = new byte[n * 4];
        var src = image.Pixels;
        for (int i = 0, s = 0, d = 0; i < n; i++, s += 3, d += 4)
        {
            bgra[d] = src[s + 2];
            bgra[d + 1] = src[s + 1];
            bgra[d + 2] = src[s];
            bgra[d + 3] = 255;
        }
        return MLImage.CreateFromPixels(image.Width, image.Height, MLPixelFormat.Bgra32, bgra);
    }

    /// <summary>Converts an ML.NET <see cref="MLImage"/> (BGRA32 or RGBA32) to RGB8, dropping alpha.</summary>
    /// <exception cref="InvalidDataException">The image has an unknown pixel format.</exception>
    public static RgbImage FromMLImage(MLImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int r, b;
        switch (image.PixelFormat)
        {
            case MLPixelFormat.Bgra32: r = 2; b = 0; break;
            case MLPixelFormat.Rgba32: r = 0; b = 2; break;
            default: throw new InvalidDataException($"MLImage pixel format {image.PixelFormat} is not supported (expected Bgra32 or Rgba32)");
        }
        ReadOnlySpan<byte> src = image.Pixels;
        int w = image.Width, h = image.Height;
        if (src.Length < w * h * 4)
            throw new InvalidDataException($"MLImage {w}x{h} holds {src.Length} pixel bytes, expected {w * h * 4}");
        var rgb = new byte[w * h * 3];
        for (int i = 0, s = 0, d = 0; i < w * h; i++, s += 4, d += 3)
        {
            rgb[d] = src[s + r];
            rgb[d + 1] = src[s + 1];
            rgb[d + 2] = src[s + b];
        }
        return new RgbImage(w, h, rgb);
    }
}
