using Xcos.ML.Alignment;
using Xcos.ML.Images;

namespace Xcos.ML.FaceModels;

/// <summary>
/// The augmentation that builds labelled pairs from unlabelled registry photos (same = two augmentations of one
/// detected face) and the learned head's training crops. Draws from <see cref="Random"/> in a fixed order, so a seed
/// reproduces the published evaluation pairs exactly.
/// </summary>
public static class PhotoAugmentation
{
    /// <summary>Number of augmentation kinds; kind 0 is the plain aligned crop.</summary>
    public const int Kinds = 6;

    /// <summary>
    /// Aligns <paramref name="photo"/> with <paramref name="alignment"/> (photo to the 112x112 template) and augments it:
    /// a similarity about the template centre (rotation 10 deg, scale 8 %, shift 4 px), brightness/contrast/colour gain,
    /// a 3x3 blur (even kinds), a grey block of 20-35 px (kinds 3 and 5) and a horizontal flip (kinds 1 and 4), every
    /// range multiplied by <paramref name="strength"/>.
    /// </summary>
    public static RgbImage Augment(RgbImage photo, Affine2x3 alignment, int kind, Random rng, double strength = 1.0)
    {
        ArgumentNullException.ThrowIfNull(photo);
        ArgumentNullException.ThrowIfNull(rng);
        if (kind is < 0 or >= Kinds) throw new ArgumentOutOfRangeException(nameof(kind), kind, $"expected 0..{Kinds - 1}");
        var m = alignment;
        double ang = kind == 0 ? 0 : (rng.NextDouble() * 2 - 1) * 10 * strength * Math.PI / 180;
        double sc = kind == 0 ? 1 : 1 + (rng.NextDouble() * 2 - 1) * 0.08 * strength;
        double tx = kind == 0 ? 0 : (rng.NextDouble() * 2 - 1) * 4 * strength, ty = kind == 0 ? 0 : (rng.NextDouble() * 2 - 1) * 4 * strength;
        double ca = sc * Math.Cos(ang), sa = sc * Math.Sin(ang);
        var t = new Affine2x3(ca, -sa, 56 - ca * 56 + sa * 56 + tx, sa, ca, 56 - sa * 56 - ca * 56 + ty);
        var mm = new Affine2x3(t.M00 * m.M00 + t.M01 * m.M10, t.M00 * m.M01 + t.M01 * m.M11, t.M00 * m.M02 + t.M01 * m.M12 + t.M02,
                               t.M10 * m.M00 + t.M11 * m.M10, t.M10 * m.M01 + t.M11 * m.M11, t.M10 * m.M02 + t.M11 * m.M12 + t.M12);
        var face = AffineWarp.Warp(photo, mm, 112, 112);
        if (kind == 0) return face;
        var p = face.Pixels;
        double br = (rng.NextDouble() * 2 - 1) * 25 * strength, ct = 1 + (rng.NextDouble() * 2 - 1) * 0.25 * strength;
        var gain = new[] { 1 + (rng.NextDouble() * 2 - 1) * 0.1 * strength, 1 + (rng.NextDouble() * 2 - 1) * 0.1 * strength, 1 + (rng.NextDouble() * 2 - 1) * 0.1 * strength };
        for (int i = 0; i < p.Length; i++) p[i] = (byte)Math.Clamp(((p[i] - 128) * ct + 128 + br) * gain[i % 3], 0, 255);
        if (kind % 2 == 0) face = Blur3(face);
        if (kind == 3 || kind == 5)
        {
            int s = rng.Next(20, 36), x0 = rng.Next(0, 112 - s), y0 = rng.Next(0, 112 - s);
            for (int y = y0; y < y0 + s; y++) for (int x = x0; x < x0 + s; x++) for (int c = 0; c < 3; c++) face.Pixels[(y * 112 + x) * 3 + c] = 128;
        }
        if (kind == 1 || kind == 4) face = FlipHorizontal(face);
        return face;
    }

    /// <summary>3x3 box blur; border pixels average the neighbours inside the image.</summary>
    public static RgbImage Blur3(RgbImage f)
    {
        var d = new byte[f.Pixels.Length];
        for (int y = 0; y < f.Height; y++) for (int x = 0; x < f.Width; x++) for (int c = 0; c < 3; c++)
        {
            int s = 0, n = 0;
            for (int dy = -1; dy <= 1; dy++) for (int dx = -1; dx <= 1; dx++)
            {
                int yy = y + dy, xx = x + dx;
                if (yy < 0 || xx < 0 || yy >= f.Height || xx >= f.Width) continue;
                s += f.Pixels[(yy * f.Width + xx) * 3 + c]; n++;
            }
            d[(y * f.Width + x) * 3 + c] = (byte)(s / n);
        }
        return new RgbImage(f.Width, f.Height, d);
    }

    /// <summary>Mirror image (left and right swapped).</summary>
    public static RgbImage FlipHorizontal(RgbImage f)
    {
        var d = new byte[f.Pixels.Length];
        for (int y = 0; y < f.Height; y++) for (int x = 0; x < f.Width; x++) for (int c = 0; c < 3; c++)
            d[(y * f.Width + x) * 3 + c] = f.Pixels[(y * f.Width + f.Width - 1 - x) * 3 + c];
        return new RgbImage(f.Width, f.Height, d);
    }
}
