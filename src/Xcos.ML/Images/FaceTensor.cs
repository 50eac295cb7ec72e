namespace Xcos.ML.Images;

/// <summary>Order of the three colour planes in a CHW tensor.</summary>
public enum ChannelOrder
{
    /// <summary>Plane 0 = red, 1 = green, 2 = blue (the xCos / InsightFace PyTorch networks).</summary>
    Rgb,
    /// <summary>Plane 0 = blue, 1 = green, 2 = red (networks trained on OpenCV-decoded images).</summary>
    Bgr,
}

/// <summary>How <see cref="FaceTensor"/> turns pixels into network input: <c>v = (x - Mean) / Std</c> per channel value x in 0..255.</summary>
public sealed class FaceTensorOptions
{
    /// <summary>Subtracted from every 0..255 value. Default 127.5, which with <see cref="Std"/> 127.5 is the xCos <c>(x/255 - 0.5)/0.5</c>.</summary>
    public float Mean { get; set; } = 127.5f;

    /// <summary>Divides the centred value. Default 127.5. Use Mean 127, Std 128 for <c>(x - 127)/128</c> models.</summary>
    public float Std { get; set; } = 127.5f;

    /// <summary>Plane order of the tensor. Default <see cref="ChannelOrder.Rgb"/>.</summary>
    public ChannelOrder ChannelOrder { get; set; } = ChannelOrder.Rgb;

    /// <summary>Mirror left-right (test-time augmentation). Default false.</summary>
    public bool HorizontalFlip { get; set; }

    /// <summary>A new instance with the xCos normalisation: (x - 127.5) / 127.5, RGB.</summary>
    public static FaceTensorOptions Default => new();
}

/// <summary>Converts between <see cref="RgbImage"/> and the normalised CHW float tensors face networks take.</summary>
public static class FaceTensor
{
    /// <summary>Returns a new <c>[3 * Height * Width]</c> CHW tensor of <paramref name="image"/>.</summary>
    public static float[] ToChw(RgbImage image, FaceTensorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        var dst = new float[3 * image.Width * image.Height];
        ToChw(image, dst, options);
        return dst;
    }

    /// <summary>Writes the CHW tensor of <paramref name="image"/> into <paramref name="destination"/> (e.g. one slot of a batch).</summary>
    public static void ToChw(RgbImage image, Span<float> destination, FaceTensorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= FaceTensorOptions.Default;
        if (options.Std == 0 || !float.IsFinite(options.Std) || !float.IsFinite(options.Mean))
            throw new ArgumentException($"FaceTensorOptions needs a finite Mean and a finite non-zero Std (got {options.Mean}, {options.Std})");
        int w = image.Width, h = image.Height, plane = w * h;
        if (destination.Length != 3 * plane)
            throw new ArgumentException($"destination holds {destination.Length} floats; a {w}x{h} face needs {3 * plane}", nameof(destination));
        // 256-entry lookup: same arithmetic for every pixel, computed in double then rounded once.
        Span<float> lut = stackalloc float[256];
        for (int i = 0; i < 256; i++) lut[i] = (float)((i - (double)options.Mean) / options.Std);
        bool bgr = options.ChannelOrder == ChannelOrder.Bgr;
        var px = image.Pixels;
        for (int y = 0; y < h; y++)
        {
            for (int x = 0; x < w; x++)
            {
                int s = (y * w + x) * 3;
                int d = y * w + (options.HorizontalFlip ? w - 1 - x : x);
                for (int c = 0; c < 3; c++)
                    destination[(bgr ? 2 - c : c) * plane + d] = lut[px[s + c]];
            }
        }
    }

    /// <summary>
    /// Inverse of <see cref="ToChw(RgbImage, FaceTensorOptions?)"/>: undoes normalisation, channel order and flip,
    /// rounding and clamping to 0..255 (for figures).
    /// </summary>
    public static RgbImage FromChw(ReadOnlySpan<float> chw, int width, int height, FaceTensorOptions? options = null)
    {
        options ??= FaceTensorOptions.Default;
        int plane = width * height;
        if (width <= 0 || height <= 0 || chw.Length != 3 * plane)
            throw new ArgumentException($"tensor holds {chw.Length} floats; a {width}x{height} CHW face needs {3 * (long)width * height}", nameof(chw));
        bool bgr = options.ChannelOrder == ChannelOrder.Bgr;
        var px = new byte[3 * plane];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int d = (y * width + x) * 3;
                int s = y * width + (options.HorizontalFlip ? width - 1 - x : x);
                for (int c = 0; c < 3; c++)
                {
                    double v = chw[(bgr ? 2 - c : c) * plane + s] * (double)options.Std + options.Mean;
                    px[d + c] = double.IsNaN(v) ? (byte)0 : (byte)Math.Clamp(Math.Round(v), 0, 255);
                }
            }
        }
        return new RgbImage(width, height, px);
    }
}
