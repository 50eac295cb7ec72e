using Xcos.ML.Images;

namespace Xcos.ML.Torch.Data;

/// <summary>What <see cref="FaceImageLoader"/> does with an image whose size is not the network's input size.</summary>
public enum SizeMismatch
{
    /// <summary>Throw an error naming the file and both sizes (default: training data should be aligned crops).</summary>
    Refuse,
    /// <summary>Bilinear resize to the input size (aspect ratio is not kept).</summary>
    Resize,
}

/// <summary>Preprocessing of face images into network input. Defaults are the xCos ones: RGB, 112x112, (x/255 - 0.5)/0.5.</summary>
public sealed record FacePreprocessOptions
{
    /// <summary>Square input side. Default 112 (the 7x7 grid needs 112).</summary>
    public int Size { get; init; } = 112;

    /// <summary>Subtracted from 0..255 values. Default 127.5.</summary>
    public float Mean { get; init; } = 127.5f;

    /// <summary>Divides the centred values. Default 127.5.</summary>
    public float Std { get; init; } = 127.5f;

    /// <summary>Plane order of the tensor. Default RGB.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>What to do with images of another size. Default <see cref="SizeMismatch.Refuse"/>.</summary>
    public SizeMismatch SizeMismatch { get; init; } = SizeMismatch.Refuse;

    /// <summary>
    /// Applied to every decoded image before the size check (the alignment seam: e.g. a landmark-based
    /// aligner). Default null: images are used as decoded. Must be thread-safe (runs on loader threads).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Func<RgbImage, RgbImage>? Preprocessor { get; init; }

    /// <summary>Number of floats of one CHW image.</summary>
    public int ImageFloats => 3 * Size * Size;

    internal FaceTensorOptions TensorOptions(bool flip) =>
        new() { Mean = Mean, Std = Std, ChannelOrder = ChannelOrder, HorizontalFlip = flip };
}

/// <summary>Decodes face image files into normalised CHW floats (<see cref="FacePreprocessOptions"/>).</summary>
public sealed class FaceImageLoader
{
    /// <summary>Creates a loader (null: xCos defaults).</summary>
    public FaceImageLoader(FacePreprocessOptions? options = null)
    {
        Options = options ?? new FacePreprocessOptions();
        if (Options.Size < 1) throw new ArgumentOutOfRangeException(nameof(options), Options.Size, "Size must be positive.");
    }

    /// <summary>Size, normalisation, channel order and size-mismatch handling applied to every image loaded.</summary>
    public FacePreprocessOptions Options { get; }

    /// <summary>Decodes <paramref name="path"/> and writes its CHW tensor into <paramref name="destination"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable image, or has the wrong size under <see cref="SizeMismatch.Refuse"/>; the message names the file.</exception>
    public void Load(string path, Span<float> destination, bool flip = false)
    {
        RgbImage image;
        try { image = ImageIO.Load(path); }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: cannot read the image ({e.Message.ReplaceLineEndings(" ")})", e);
        }
        Convert(image, destination, flip, path);
    }

    /// <summary>Decodes encoded bytes (<paramref name="name"/> labels errors) into <paramref name="destination"/>.</summary>
    public void Load(byte[] bytes, string name, Span<float> destination, bool flip = false)
    {
        RgbImage image;
        try { image = ImageIO.Load(bytes, name: name); }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            throw new InvalidDataException($"{name}: cannot read the image ({e.Message.ReplaceLineEndings(" ")})", e);
        }
        Convert(image, destination, flip, name);
    }

    /// <summary>Preprocesses a decoded image into <paramref name="destination"/>.</summary>
    public void Convert(RgbImage image, Span<float> destination, bool flip, string name)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (Options.Preprocessor is not null) image = Options.Preprocessor(image);
        int s = Options.Size;
        if (image.Width != s || image.Height != s)
        {
            if (Options.SizeMismatch == SizeMismatch.Refuse)
                throw new InvalidDataException(
                    $"{name}: image is {image.Width}x{image.Height}, the network takes {s}x{s} aligned faces " +
                    "(align the faces first, or allow resizing).");
            image = ResizeBilinear(image, s, s);
        }
        FaceTensor.ToChw(image, destination, Options.TensorOptions(flip));
    }

    /// <summary>Bilinear resize with half-pixel centres (as OpenCV's INTER_LINEAR without its fixed-point rounding).</summary>
    public static RgbImage ResizeBilinear(RgbImage src, int width, int height)
    {
        var dst = new byte[width * height * 3];
        double sx = (double)src.Width / width, sy = (double)src.Height / height;
        var p = src.Pixels;
        for (int y = 0; y < height; y++)
        {
            double fy = Math.Clamp((y + 0.5) * sy - 0.5, 0, src.Height - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, src.Height - 1);
            double wy = fy - y0;
            for (int x = 0; x < width; x++)
            {
                double fx = Math.Clamp((x + 0.5) * sx - 0.5, 0, src.Width - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, src.Width - 1);
                double wx = fx - x0;
                for (int c = 0; c < 3; c++)
                {
                    double a = p[(y0 * src.Width + x0) * 3 + c], b = p[(y0 * src.Width + x1) * 3 + c];
                    double d = p[(y1 * src.Width + x0) * 3 + c], e = p[(y1 * src.Width + x1) * 3 + c];
                    double v = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
                    dst[(y * width + x) * 3 + c] = (byte)Math.Clamp(Math.Round(v), 0, 255);
                }
            }
        }
        return new RgbImage(width, height, dst);
    }
}
