namespace Xcos.ML.Images;

/// <summary>
/// An 8-bit RGB image held in memory: <see cref="Pixels"/> is row-major, three interleaved bytes per pixel (R, G, B).
/// </summary>
public sealed class RgbImage
{
    /// <summary>Wraps an existing pixel buffer (not copied).</summary>
    /// <exception cref="ArgumentException">The buffer length is not <c>width * height * 3</c>.</exception>
    public RgbImage(int width, int height, byte[] pixels)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive, got {width}x{height}");
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != (long)width * height * 3)
            throw new ArgumentException($"pixel buffer holds {pixels.LongLength} bytes; a {width}x{height} RGB8 image needs {(long)width * height * 3}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>A black image of the given size.</summary>
    public RgbImage(int width, int height) : this(width, height, new byte[checked(width * height * 3)]) { }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Interleaved RGB8 bytes, row-major: pixel (x, y) channel c is at <c>(y * Width + x) * 3 + c</c>.</summary>
    public byte[] Pixels { get; }

    /// <summary>Channel <paramref name="c"/> (0 = R, 1 = G, 2 = B) of pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public byte this[int x, int y, int c] => Pixels[(y * Width + x) * 3 + c];

    /// <summary>A copy with its own pixel array.</summary>
    public RgbImage Clone() => new(Width, Height, (byte[])Pixels.Clone());
}
