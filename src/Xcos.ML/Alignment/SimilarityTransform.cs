namespace Xcos.ML.Alignment;

/// <summary>Least-squares 2-D similarity transform (rotation, uniform scale, translation; no reflection).</summary>
internal static class SimilarityTransform
{
    /// <summary>
    /// Finds the similarity <c>T</c> minimising <c>sum |T(src[i]) - dst[i]|^2</c>, as scikit-image's
    /// <c>SimilarityTransform.estimate</c> (Umeyama 1991) does.
    /// </summary>
    /// <remarks>
    /// In 2-D Umeyama's SVD solution has a closed form: with demeaned points s, d and
    /// <c>a = sum(s.x d.x + s.y d.y)</c>, <c>b = sum(s.x d.y - s.y d.x)</c>, <c>v = sum |s|^2</c>, the linear part is
    /// <c>[[a, -b], [b, a]] / v</c> (the proper rotation maximising the trace, times Umeyama's scale), and the
    /// translation carries the source mean onto the destination mean. Same result as the SVD, without one.
    /// </remarks>
    /// <exception cref="ArgumentException">Fewer than two points, different counts, non-finite values,
    /// or a degenerate configuration (all source or all destination points equal).</exception>
    public static Affine2x3 Estimate(ReadOnlySpan<(double X, double Y)> src, ReadOnlySpan<(double X, double Y)> dst)
    {
        if (src.Length != dst.Length)
            throw new ArgumentException($"similarity estimate needs as many source as destination points ({src.Length} vs {dst.Length})");
        int n = src.Length;
        if (n < 2) throw new ArgumentException($"similarity estimate needs at least 2 point pairs, got {n}");
        double smx = 0, smy = 0, dmx = 0, dmy = 0;
        for (int i = 0; i < n; i++)
        {
            if (!double.IsFinite(src[i].X) || !double.IsFinite(src[i].Y))
                throw new ArgumentException($"source point {i} is not finite ({src[i].X}, {src[i].Y})");
            if (!double.IsFinite(dst[i].X) || !double.IsFinite(dst[i].Y))
                throw new ArgumentException($"destination point {i} is not finite ({dst[i].X}, {dst[i].Y})");
            smx += src[i].X; smy += src[i].Y; dmx += dst[i].X; dmy += dst[i].Y;
        }
        smx /= n; smy /= n; dmx /= n; dmy /= n;
        double a = 0, b = 0, v = 0, w = 0;
        for (int i = 0; i < n; i++)
        {
            double sx = src[i].X - smx, sy = src[i].Y - smy, dx = dst[i].X - dmx, dy = dst[i].Y - dmy;
            a += sx * dx + sy * dy;
            b += sx * dy - sy * dx;
            v += sx * sx + sy * sy;
            w += dx * dx + dy * dy;
        }
        // Relative thresholds: points spread over less than ~1e-12 of their magnitude are one point.
        double sMag = Math.Max(1.0, Math.Abs(smx) + Math.Abs(smy)), dMag = Math.Max(1.0, Math.Abs(dmx) + Math.Abs(dmy));
        if (v <= 1e-24 * sMag * sMag * n)
            throw new ArgumentException("degenerate source points: all coincide, so no similarity transform is defined");
        if (w <= 1e-24 * dMag * dMag * n)
            throw new ArgumentException("degenerate destination points: all coincide, so no similarity transform is defined");
        double c = a / v, s = b / v;
        return new Affine2x3(c, -s, dmx - (c * smx - s * smy), s, c, dmy - (s * smx + c * smy));
    }

    /// <summary>Overload for float point arrays.</summary>
    public static Affine2x3 Estimate(ReadOnlySpan<(float X, float Y)> src, ReadOnlySpan<(float X, float Y)> dst)
    {
        var s = new (double, double)[src.Length];
        var d = new (double, double)[dst.Length];
        for (int i = 0; i < s.Length; i++) s[i] = (src[i].X, src[i].Y);
        for (int i = 0; i < d.Length; i++) d[i] = (dst[i].X, dst[i].Y);
        return Estimate(s, d);
    }
}
