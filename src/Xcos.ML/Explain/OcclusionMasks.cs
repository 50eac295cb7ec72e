using Xcos.ML.Images;

namespace Xcos.ML.Explain;

/// <summary>Shape options of <see cref="OcclusionMasks.Blobs"/>.</summary>
public sealed class OcclusionBlobOptions
{
    /// <summary>Smallest blob semi-axis as a fraction of the shorter image side. Default 0.06 (about 7 px at 112).</summary>
    public double MinRadius { get; set; } = 0.06;

    /// <summary>Largest blob semi-axis as a fraction of the shorter image side. Default 0.18 (about 20 px at 112).</summary>
    public double MaxRadius { get; set; } = 0.18;

    internal void Validate()
    {
        if (!(MinRadius > 0) || !(MaxRadius >= MinRadius) || MaxRadius > 1)
            throw new ArgumentException($"blob radii must satisfy 0 < MinRadius <= MaxRadius <= 1, got {MinRadius} and {MaxRadius}");
    }
}

/// <summary>What occluded pixels are painted with.</summary>
public enum OcclusionFill
{
    /// <summary>Black (0, 0, 0), like a solid occluder.</summary>
    Black,
    /// <summary>The face's mean colour.</summary>
    MeanColor,
    /// <summary>Seeded uniform random colour per pixel.</summary>
    Noise,
}

/// <summary>Random blob masks for occlusion experiments.</summary>
internal static class OcclusionMasks
{
    /// <summary>
    /// A mask (row-major, true = occluded) made of random elliptical blobs that covers exactly
    /// <c>round(fraction * width * height)</c> pixels: blobs are added until the next one would overshoot, and of that
    /// blob only the pixels nearest its centre are kept. The blob sequence depends only on the seed, so masks of one seed
    /// are nested: a larger fraction covers everything a smaller one does.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside [0, 1] or the size is not positive.</exception>
    public static bool[] Blobs(int width, int height, double fraction, int seed, OcclusionBlobOptions? options = null)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"{width}x{height}", "mask size must be positive");
        if (!(fraction >= 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "must be in [0, 1]");
        var o = options ?? new OcclusionBlobOptions();
        o.Validate();
        int total = width * height;
        int target = (int)Math.Round(fraction * total);
        var mask = new bool[total];
        int covered = 0;
        var rng = new Random(seed);
        double side = Math.Min(width, height);
        var fresh = new List<(int Index, double Distance)>();
        while (covered < target)
        {
            double cx = rng.NextDouble() * width, cy = rng.NextDouble() * height;
            double ra = side * (o.MinRadius + rng.NextDouble() * (o.MaxRadius - o.MinRadius));
            double rb = ra * (0.6 + 0.4 * rng.NextDouble());
            double angle = rng.NextDouble() * Math.PI;
            double cos = Math.Cos(angle), sin = Math.Sin(angle);
            fresh.Clear();
            int x0 = Math.Max(0, (int)Math.Floor(cx - ra)), x1 = Math.Min(width - 1, (int)Math.Ceiling(cx + ra));
            int y0 = Math.Max(0, (int)Math.Floor(cy - ra)), y1 = Math.Min(height - 1, (int)Math.Ceiling(cy + ra));
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                {
                    int i = y * width + x;
                    if (mask[i]) continue;
                    double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                    double u = (dx * cos + dy * sin) / ra, v = (-dx * sin + dy * cos) / rb;
                    double d = u * u + v * v;
                    if (d <= 1) fresh.Add((i, d));
                }
            if (covered + fresh.Count > target)
            {
                // Keep the core of the last blob so the coverage is exact and the blob stays compact.
                fresh.Sort((a, b) => a.Distance != b.Distance ? a.Distance.CompareTo(b.Distance) : a.Index.CompareTo(b.Index));
                fresh.RemoveRange(target - covered, fresh.Count - (target - covered));
            }
            foreach (var (i, _) in fresh) mask[i] = true;
            covered += fresh.Count;
        }
        return mask;
    }

    /// <summary>The face with masked pixels painted with the fill.</summary>
    /// <param name="face">The face.</param>
    /// <param name="mask">Width*Height flags, true = occluded.</param>
    /// <param name="fill">Paint.</param>
    /// <param name="seed">Seed of <see cref="OcclusionFill.Noise"/>.</param>
    public static RgbImage Apply(RgbImage face, IReadOnlyList<bool> mask, OcclusionFill fill = OcclusionFill.Black, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(face);
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.Count != face.Width * face.Height)
            throw new ArgumentException($"mask holds {mask.Count} flags; a {face.Width}x{face.Height} face needs {face.Width * face.Height}");
        var px = (byte[])face.Pixels.Clone();
        byte[]? mean = fill == OcclusionFill.MeanColor ? FaithfulnessPatches.MeanColor(face).Pixels[..3] : null;
        var rng = fill == OcclusionFill.Noise ? new Random(seed) : null;
        for (int i = 0; i < mask.Count; i++)
        {
            if (!mask[i]) continue;
            for (int c = 0; c < 3; c++)
                px[i * 3 + c] = fill switch
                {
                    OcclusionFill.Black => 0,
                    OcclusionFill.MeanColor => mean![c],
                    OcclusionFill.Noise => (byte)rng!.Next(256),
                    _ => throw new ArgumentOutOfRangeException(nameof(fill), fill, "unknown fill"),
                };
        }
        return new RgbImage(face.Width, face.Height, px);
    }
}
