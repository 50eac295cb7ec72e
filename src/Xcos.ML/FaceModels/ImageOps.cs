using Xcos.ML.Alignment;
using Xcos.ML.Images;

namespace Xcos.ML.FaceModels;

/// <summary>Small pixel operations the face models' pre-processing needs (resize, crop, grey).</summary>
internal static class ImageOps
{
    /// <summary>
    /// Bilinear resize with OpenCV's <c>cv::resize</c> INTER_LINEAR geometry (pixel centres aligned:
    /// <c>x_src = (x_dst + 0.5) * sx - 0.5</c>), done as an affine warp.
    /// </summary>
    public static RgbImage Resize(RgbImage src, int width, int height)
    {
        double sx = (double)width / src.Width, sy = (double)height / src.Height;
        // cv::resize replicates edge pixels; the warp reads black outside the image, so warp a copy with a
        // one-pixel replicated border (upscaling samples up to half a pixel outside).
        var m = new Affine2x3(sx, 0, 0.5 * sx - 0.5, 0, sy, 0.5 * sy - 0.5);
        return AffineWarp.Warp(PadReplicate(src), Shift(m, sx, sy), width, height);
    }

    // The padded image has its original pixel (0,0) at (1,1): shift the source side of the matrix by one pixel.
    private static Affine2x3 Shift(Affine2x3 m, double sx, double sy) => m with { M02 = m.M02 - sx, M12 = m.M12 - sy };

    /// <summary>Copy with a one-pixel replicated border (so bilinear sampling at the edge never reads black).</summary>
    private static RgbImage PadReplicate(RgbImage src)
    {
        int w = src.Width, h = src.Height, pw = w + 2, ph = h + 2;
        var dst = new byte[pw * ph * 3];
        var s = src.Pixels;
        for (int y = 0; y < ph; y++)
        {
            int sy = Math.Clamp(y - 1, 0, h - 1);
            for (int x = 0; x < pw; x++)
            {
                int sx = Math.Clamp(x - 1, 0, w - 1);
                int si = (sy * w + sx) * 3, di = (y * pw + x) * 3;
                dst[di] = s[si]; dst[di + 1] = s[si + 1]; dst[di + 2] = s[si + 2];
            }
        }
        return new RgbImage(pw, ph, dst);
    }

    /// <summary>The <paramref name="w"/> x <paramref name="h"/> rectangle at (<paramref name="x"/>, <paramref name="y"/>); must lie inside the image.</summary>
    public static RgbImage Crop(RgbImage src, int x, int y, int w, int h)
    {
        if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > src.Width || y + h > src.Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"crop {w}x{h} at ({x},{y}) is outside the {src.Width}x{src.Height} image");
        var dst = new byte[w * h * 3];
        for (int r = 0; r < h; r++)
            Array.Copy(src.Pixels, ((y + r) * src.Width + x) * 3, dst, r * w * 3, w * 3);
        return new RgbImage(w, h, dst);
    }

    /// <summary>ITU-R BT.601 luma (OpenCV's RGB2GRAY weights 0.299, 0.587, 0.114), one float per pixel.</summary>
    public static float[] Grey(RgbImage img)
    {
        var g = new float[img.Width * img.Height];
        var p = img.Pixels;
        for (int i = 0; i < g.Length; i++)
            g[i] = MathF.Round(0.299f * p[3 * i] + 0.587f * p[3 * i + 1] + 0.114f * p[3 * i + 2]);
        return g;
    }
}
