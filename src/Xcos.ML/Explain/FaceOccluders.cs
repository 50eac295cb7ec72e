using Xcos.ML.Images;

namespace Xcos.ML.Explain;

/// <summary>An occluder drawn on an aligned face.</summary>
public enum FaceOccluder
{
    /// <summary>Nothing: the clean face.</summary>
    None,
    /// <summary>A surgical-mask shape from about the nose tip to the chin, of varied height, outline and colour.</summary>
    Mask,
    /// <summary>Dark sunglasses (two filled ellipses and a bridge) of varied size, height and darkness.</summary>
    Sunglasses,
    /// <summary>A random block covering 10-50 % of the face, of a random flat colour.</summary>
    Block,
}

/// <summary>
/// Occluders on aligned 112x112 faces (ArcFace template: eyes near y = 52, nose tip near y = 72, mouth near y = 92;
/// other sizes are scaled), drawn from a <see cref="Random"/> so a training step draws fresh ones and an evaluation
/// fixes its seed. The shapes follow the occlusion peer (shared/peer/occlusion_finetune.py), widened: the mask's top
/// runs from 56 to 78, its colours include patterned-free greys, blues and skin tones; the sunglasses' darkness runs
/// from 0 to 90 and their size from 12 to 23 x 7 to 16 pixels.
/// </summary>
public static class FaceOccluders
{
    /// <summary>The occluders of an evaluation, in report order.</summary>
    public static readonly IReadOnlyList<FaceOccluder> All = [FaceOccluder.None, FaceOccluder.Mask, FaceOccluder.Sunglasses, FaceOccluder.Block];

    /// <summary>Short name used in reports and file names ("clean", "mask", "sunglasses", "block").</summary>
    public static string Name(FaceOccluder kind) => kind switch
    {
        FaceOccluder.None => "clean",
        FaceOccluder.Mask => "mask",
        FaceOccluder.Sunglasses => "sunglasses",
        FaceOccluder.Block => "block",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown occluder"),
    };

    private static readonly (byte R, byte G, byte B)[] MaskColours =
    [
        (200, 220, 235), (240, 240, 240), (60, 60, 60), (120, 160, 200), (30, 60, 110), (235, 200, 190), (170, 200, 170), (20, 20, 20),
    ];

    /// <summary>A copy of <paramref name="face"/> with a fresh occluder of <paramref name="kind"/> drawn from <paramref name="rng"/>.</summary>
    public static RgbImage Apply(RgbImage face, FaceOccluder kind, Random rng)
    {
        ArgumentNullException.ThrowIfNull(face);
        ArgumentNullException.ThrowIfNull(rng);
        var o = new RgbImage(face.Width, face.Height, (byte[])face.Pixels.Clone());
        double s = face.Width / 112.0, t = face.Height / 112.0;
        int X(double v) => (int)Math.Round(v * s);
        int Y(double v) => (int)Math.Round(v * t);
        switch (kind)
        {
            case FaceOccluder.None: break;
            case FaceOccluder.Mask:
            {
                int top = rng.Next(56, 79);
                var c = MaskColours[rng.Next(MaskColours.Length)];
                (double, double)[] pts =
                [
                    (rng.Next(0, 15), top + rng.Next(-5, 6)), (rng.Next(40, 50), top - rng.Next(0, 6)), (rng.Next(62, 72), top - rng.Next(0, 6)),
                    (rng.Next(98, 113), top + rng.Next(-5, 6)), (rng.Next(94, 110), rng.Next(90, 106)), (rng.Next(72, 90), 112),
                    (rng.Next(22, 40), 112), (rng.Next(2, 18), rng.Next(90, 106)),
                ];
                FillPolygon(o, pts.Select(p => (p.Item1 * s, p.Item2 * t)).ToArray(), c);
                break;
            }
            case FaceOccluder.Sunglasses:
            {
                byte v = (byte)rng.Next(0, 91);
                var c = (v, v, (byte)Math.Min(255, v + rng.Next(0, 20)));
                double ax = rng.Next(12, 24), ay = rng.Next(7, 17), y = rng.Next(45, 60);
                int dx = rng.Next(-3, 4);
                foreach (var cx in new double[] { 38 + dx, 74 + dx })
                    FillEllipse(o, cx * s, y * t, ax * s, ay * t, c);
                FillRect(o, X(50 + dx), Y(y - 3), X(62 + dx), Y(y), c);
                break;
            }
            case FaceOccluder.Block:
            {
                double area = 0.10 + 0.40 * rng.NextDouble();
                double aspect = Math.Exp((rng.NextDouble() - 0.5) * 0.8);
                int w = Math.Clamp((int)Math.Round(Math.Sqrt(area * aspect) * face.Width), 1, face.Width);
                int h = Math.Clamp((int)Math.Round(area * face.Width * face.Height / w), 1, face.Height);
                int x0 = rng.Next(0, face.Width - w + 1), y0 = rng.Next(0, face.Height - h + 1);
                var c = ((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
                FillRect(o, x0, y0, x0 + w, y0 + h, c);
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown occluder");
        }
        return o;
    }

    private static void Set(RgbImage img, int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= (uint)img.Width || (uint)y >= (uint)img.Height) return;
        int i = (y * img.Width + x) * 3;
        img.Pixels[i] = c.R;
        img.Pixels[i + 1] = c.G;
        img.Pixels[i + 2] = c.B;
    }

    private static void FillRect(RgbImage img, int x0, int y0, int x1, int y1, (byte, byte, byte) c)
    {
        for (int y = Math.Max(0, y0); y < Math.Min(img.Height, y1); y++)
            for (int x = Math.Max(0, x0); x < Math.Min(img.Width, x1); x++) Set(img, x, y, c);
    }

    private static void FillEllipse(RgbImage img, double cx, double cy, double ax, double ay, (byte, byte, byte) c)
    {
        for (int y = (int)Math.Floor(cy - ay); y <= (int)Math.Ceiling(cy + ay); y++)
            for (int x = (int)Math.Floor(cx - ax); x <= (int)Math.Ceiling(cx + ax); x++)
            {
                double u = (x + 0.5 - cx) / ax, v = (y + 0.5 - cy) / ay;
                if (u * u + v * v <= 1) Set(img, x, y, c);
            }
    }

    // Even-odd scanline fill at pixel centres.
    private static void FillPolygon(RgbImage img, (double X, double Y)[] pts, (byte, byte, byte) c)
    {
        var xs = new List<double>();
        for (int y = 0; y < img.Height; y++)
        {
            double py = y + 0.5;
            xs.Clear();
            for (int i = 0; i < pts.Length; i++)
            {
                var (x1, y1) = pts[i];
                var (x2, y2) = pts[(i + 1) % pts.Length];
                if ((y1 <= py && y2 > py) || (y2 <= py && y1 > py)) xs.Add(x1 + (py - y1) / (y2 - y1) * (x2 - x1));
            }
            xs.Sort();
            for (int k = 0; k + 1 < xs.Count; k += 2)
                for (int x = (int)Math.Ceiling(xs[k] - 0.5); x + 0.5 <= xs[k + 1]; x++) Set(img, x, y, c);
        }
    }
}
