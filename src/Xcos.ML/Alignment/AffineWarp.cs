using Xcos.ML.Images;

namespace Xcos.ML.Alignment;

/// <summary>Affine image warping with the arithmetic of OpenCV's <c>cv2.warpAffine</c> (INTER_LINEAR, BORDER_CONSTANT 0).</summary>
internal static class AffineWarp
{
    // OpenCV's fixed-point layout: coordinates in 1/1024 (AB_BITS), sub-pixel positions in 1/32 (INTER_BITS),
    // bilinear weights in 1/32768 (INTER_REMAP_COEF_BITS). Reproducing it keeps results within rounding of cv2.
    private const int AbBits = 10, InterBits = 5, InterTab = 1 << InterBits, CoefBits = 15;
    private const int RoundDelta = (1 << AbBits) / InterTab / 2;

    /// <summary>
    /// Warps <paramref name="src"/> by <paramref name="srcToDst"/> into a <paramref name="width"/> x <paramref name="height"/>
    /// image: each destination pixel is inverse-mapped into the source and sampled bilinearly; neighbours outside
    /// the source read as 0 (black).
    /// </summary>
    /// <exception cref="InvalidOperationException">The matrix is singular.</exception>
    public static RgbImage Warp(RgbImage src, Affine2x3 srcToDst, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"output size must be positive, got {width}x{height}");
        var m = srcToDst.Inverse();
        int sw = src.Width, sh = src.Height;
        var sp = src.Pixels;
        var dp = new byte[width * height * 3];
        const int abScale = 1 << AbBits;
        var adelta = new int[width];
        var bdelta = new int[width];
        for (int x = 0; x < width; x++)
        {
            adelta[x] = SatInt(m.M00 * x * abScale);
            bdelta[x] = SatInt(m.M10 * x * abScale);
        }
        Span<int> px = stackalloc int[12];
        for (int y = 0; y < height; y++)
        {
            int x0 = SatInt((m.M01 * y + m.M02) * abScale) + RoundDelta;
            int y0 = SatInt((m.M11 * y + m.M12) * abScale) + RoundDelta;
            for (int x = 0; x < width; x++)
            {
                int xf = (x0 + adelta[x]) >> (AbBits - InterBits);
                int yf = (y0 + bdelta[x]) >> (AbBits - InterBits);
                int sx = SatShort(xf >> InterBits), sy = SatShort(yf >> InterBits);
                int fx = xf & (InterTab - 1), fy = yf & (InterTab - 1);
                int d = (y * width + x) * 3;
                if (sx >= sw || sx + 1 < 0 || sy >= sh || sy + 1 < 0)
                    continue; // whole 2x2 neighbourhood outside: border value 0
                // Weights (32 - f) * 32 * ... are exact integers in 1/32768 units, as OpenCV's table holds them.
                int w00 = (InterTab - fx) * (InterTab - fy), w01 = fx * (InterTab - fy), w10 = (InterTab - fx) * fy, w11 = fx * fy;
                const int wScale = (1 << CoefBits) / (InterTab * InterTab);
                for (int k = 0; k < 4; k++)
                {
                    int xx = sx + (k & 1), yy = sy + (k >> 1);
                    bool inside = (uint)xx < (uint)sw && (uint)yy < (uint)sh;
                    int o = (yy * sw + xx) * 3;
                    for (int c = 0; c < 3; c++) px[k * 3 + c] = inside ? sp[o + c] : 0;
                }
                for (int c = 0; c < 3; c++)
                {
                    int acc = (px[c] * w00 + px[3 + c] * w01 + px[6 + c] * w10 + px[9 + c] * w11) * wScale;
                    int v = (acc + (1 << (CoefBits - 1))) >> CoefBits;
                    dp[d + c] = (byte)Math.Clamp(v, 0, 255);
                }
            }
        }
        return new RgbImage(width, height, dp);
    }

    // cv::saturate_cast<int>(double): round half to even, clamp to the int range.
    private static int SatInt(double v)
    {
        double r = Math.Round(v, MidpointRounding.ToEven);
        return r >= int.MaxValue ? int.MaxValue : r <= int.MinValue ? int.MinValue : (int)r;
    }

    private static int SatShort(int v) => Math.Clamp(v, short.MinValue, short.MaxValue);
}
