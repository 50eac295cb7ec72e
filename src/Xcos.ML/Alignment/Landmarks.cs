namespace Xcos.ML.Alignment;

/// <summary>Conversions between landmark layouts: 68 points to the 5 the aligner uses, and flat x,y vectors to points.</summary>
public static class Landmarks
{
    /// <summary>
    /// Reduces 68 iBUG/dlib points to the five of <see cref="ArcFaceTemplate"/>: each eye is the midpoint of its
    /// corners (36, 39) and (42, 45), nose tip 30, mouth corners 48 and 54 (0-based).
    /// </summary>
    /// <exception cref="ArgumentException">Not 68 points.</exception>
    public static (double X, double Y)[] FivePointsFromEyeCorners(ReadOnlySpan<(double X, double Y)> points68)
    {
        if (points68.Length != 68)
            throw new ArgumentException($"68-point landmarks expected, got {points68.Length} points", nameof(points68));
        static (double, double) Mid((double X, double Y) a, (double X, double Y) b) => ((a.X + b.X) / 2, (a.Y + b.Y) / 2);
        return [Mid(points68[36], points68[39]), Mid(points68[42], points68[45]), points68[30], points68[48], points68[54]];
    }

    /// <summary>
    /// Reads a flat <c>x0, y0, x1, y1, ...</c> vector of 10 (five points) or 136 (68 points, reduced with
    /// <see cref="FivePointsFromEyeCorners"/>) values as five points.
    /// </summary>
    /// <exception cref="ArgumentException">Any other length.</exception>
    public static (double X, double Y)[] FromFlat(ReadOnlySpan<float> xy)
    {
        if (xy.Length != 10 && xy.Length != 136)
            throw new ArgumentException($"landmark vector must hold 10 (5 points) or 136 (68 points) values as x,y pairs, got {xy.Length}");
        var pts = new (double X, double Y)[xy.Length / 2];
        for (int i = 0; i < pts.Length; i++) pts[i] = (xy[2 * i], xy[2 * i + 1]);
        return pts.Length == 5 ? pts : FivePointsFromEyeCorners(pts);
    }
}
