using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Images;

namespace Xcos.ML.Data;

/// <summary>
/// A masked copy of an image folder, as the original xCos masked CASIA (<c>imgs_masked25</c> etc.): every image gets
/// random blobs covering a fixed fraction of its area (the faces are aligned crops, so of the face), painted black.
/// The mask of an image depends only on the seed and the image's index, so a copy is reproducible.
/// </summary>
internal static class MaskedFaces
{
    /// <summary>Writes DEST/&lt;identity&gt;/&lt;image&gt;_masked&lt;percent&gt;.png for every image of <paramref name="source"/>
    /// (the suffix lets a masked copy be written into a copy of the clean folder); returns the count.</summary>
    /// <exception cref="ArgumentException">The fraction is outside [0, 1].</exception>
    /// <exception cref="InvalidDataException">An image cannot be read (the message names it).</exception>
    public static int WriteMaskedCopy(ImageFolder source, string destination, double fraction, int seed, OcclusionFill fill = OcclusionFill.Black)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (fraction is < 0 or > 1 || double.IsNaN(fraction)) throw new ArgumentException($"mask fraction must be in [0, 1], got {fraction}", nameof(fraction));
        // copies written into the source would join it: the next load counts them as photos (or a nested folder as an identity)
        if (FileKinds.IsSameOrInside(destination, source.Root))
            throw new ArgumentException($"{Path.GetFullPath(destination)}: the masked copy would go into the image folder it is made from ({source.Root}); choose an output outside it", nameof(destination));
        for (int i = 0; i < source.Count; i++)
        {
            var (path, identity) = (source.Samples[i].Path, source.Identities[source.Samples[i].Label]);
            var face = ImageIO.Load(path);
            var mask = OcclusionMasks.Blobs(face.Width, face.Height, fraction, seed + i);
            var masked = OcclusionMasks.Apply(face, mask, fill, seed + i);
            var dir = Path.Combine(destination, identity);
            Directory.CreateDirectory(dir);
            RgbPng.WriteAtomic(Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(path)}_masked{Math.Round(fraction * 100):0}.png"), RgbPng.EncodeRgb(masked.Pixels, masked.Width, masked.Height));
        }
        return source.Count;
    }
}
