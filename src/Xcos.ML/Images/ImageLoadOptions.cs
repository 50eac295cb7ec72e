namespace Xcos.ML.Images;

/// <summary>Options for <see cref="ImageIO"/> loading.</summary>
public sealed class ImageLoadOptions
{
    /// <summary>Default pixel budget: 40 megapixels (a 40 MP RGB8 image is 120 MB decoded).</summary>
    public const long DefaultMaxPixels = 40_000_000;

    /// <summary>
    /// Largest <c>width * height</c> accepted. Checked from the file header before any pixel is decoded,
    /// so an oversized or hostile file cannot exhaust memory. Default <see cref="DefaultMaxPixels"/>.
    /// </summary>
    public long MaxPixels { get; set; } = DefaultMaxPixels;

    /// <summary>Rotate/flip the pixels as the EXIF orientation tag says (as cameras and browsers show them). Default true.</summary>
    public bool ApplyExifOrientation { get; set; } = true;

    /// <summary>A new instance with the defaults: 40-megapixel budget, EXIF orientation applied.</summary>
    public static ImageLoadOptions Default => new();
}
