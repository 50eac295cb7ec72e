using Xcos.ML.Images;

namespace Xcos.ML.Explain;

/// <summary>What a deleted patch is replaced with.</summary>
public enum PatchFill
{
    /// <summary>The mean colour of the whole face (per channel): removes the patch's structure and colour contrast.</summary>
    MeanColor,
    /// <summary>The same face blurred (box blur applied three times, about a Gaussian): removes detail, keeps coarse colour.</summary>
    Blur,
}

/// <summary>Patch-grid image operations of the faithfulness measurements: fills and per-cell composites.</summary>
internal static class FaithfulnessPatches
{
    /// <summary>The fully filled version of <paramref name="face"/>: every pixel replaced by the fill.</summary>
    /// <param name="face">The face.</param>
    /// <param name="fill">Fill kind.</param>
    /// <param name="blurRadius">Box radius in pixels for <see cref="PatchFill.Blur"/> (three passes).</param>
    public static RgbImage Filled(RgbImage face, PatchFill fill, int blurRadius = 8)
    {
        ArgumentNullException.ThrowIfNull(face);
        return fill switch
        {
            PatchFill.MeanColor => MeanColor(face),
            PatchFill.Blur => Blur(face, blurRadius),
            _ => throw new ArgumentOutOfRangeException(nameof(fill), fill, "unknown fill"),
        };
    }

    /// <summary>An image of the face's mean colour (each channel rounded to the nearest level).</summary>
    public static RgbImage MeanColor(RgbImage face)
    {
        ArgumentNullException.ThrowIfNull(face);
        var px = face.Pixels;
        long r = 0, g = 0, b = 0;
        for (int i = 0; i < px.Length; i += 3) { r += px[i]; g += px[i + 1]; b += px[i + 2]; }
        long n = (long)face.Width * face.Height;
        byte mr = (byte)Math.Round((double)r / n), mg = (byte)Math.Round((double)g / n), mb = (byte)Math.Round((double)b / n);
        var o = new byte[px.Length];
        for (int i = 0; i < o.Length; i += 3) { o[i] = mr; o[i + 1] = mg; o[i + 2] = mb; }
        return new RgbImage(face.Width, face.Height, o);
    }

    /// <summary>Three separable box-blur passes of radius <paramref name="radius"/> (edges clamped).</summary>
    public static RgbImage Blur(RgbImage face, int radius)
    {
        ArgumentNullException.ThrowIfNull(face);
        if (radius < 1) throw new ArgumentOutOfRangeException(nameof(radius), radius, "must be at least 1");
        int w = face.Width, h = face.Height;
        var a = face.Pixels.Select(v => (float)v).ToArray();
        var t = new float[a.Length];
        for (int pass = 0; pass < 3; pass++)
        {
            BoxPass(a, t, w, h, radius, horizontal: true);
            BoxPass(t, a, w, h, radius, horizontal: false);
        }
        return new RgbImage(w, h, a.Select(v => (byte)Math.Clamp(Math.Round(v), 0, 255)).ToArray());
    }

    private static void BoxPass(float[] src, float[] dst, int w, int h, int r, bool horizontal)
    {
        int lines = horizontal ? h : w, len = horizontal ? w : h;
        float inv = 1f / (2 * r + 1);
        for (int line = 0; line < lines; line++)
        {
            for (int c = 0; c < 3; c++)
            {
                for (int i = 0; i < len; i++)
                {
                    float sum = 0;
                    for (int k = -r; k <= r; k++)
                    {
                        int j = Math.Clamp(i + k, 0, len - 1);
                        sum += src[Index(line, j, c)];
                    }
                    dst[Index(line, i, c)] = sum * inv;
                }
            }
        }

        int Index(int line, int i, int c) => horizontal ? (line * w + i) * 3 + c : (i * w + line) * 3 + c;
    }

    /// <summary>Pixel rectangle [x0, x1) x [y0, y1) of grid cell <paramref name="cell"/> (row-major) on a grid x grid split.</summary>
    public static (int X0, int Y0, int X1, int Y1) CellRect(int width, int height, int grid, int cell)
    {
        if (grid < 1) throw new ArgumentOutOfRangeException(nameof(grid), grid, "must be positive");
        if (cell < 0 || cell >= grid * grid) throw new ArgumentOutOfRangeException(nameof(cell), cell, $"must be in [0, {grid * grid})");
        int row = cell / grid, col = cell % grid;
        return (col * width / grid, row * height / grid, (col + 1) * width / grid, (row + 1) * height / grid);
    }

    /// <summary>
    /// Per-cell composite: cell i comes from <paramref name="filled"/> where <paramref name="useFilled"/>[i], else from <paramref name="face"/>.
    /// </summary>
    public static RgbImage Composite(RgbImage face, RgbImage filled, IReadOnlyList<bool> useFilled, int grid)
    {
        ArgumentNullException.ThrowIfNull(face);
        ArgumentNullException.ThrowIfNull(filled);
        ArgumentNullException.ThrowIfNull(useFilled);
        if (face.Width != filled.Width || face.Height != filled.Height)
            throw new ArgumentException($"face is {face.Width}x{face.Height} but the fill is {filled.Width}x{filled.Height}");
        if (useFilled.Count != grid * grid) throw new ArgumentException($"cell mask holds {useFilled.Count} values; a {grid}x{grid} grid needs {grid * grid}");
        var o = (byte[])face.Pixels.Clone();
        for (int cell = 0; cell < useFilled.Count; cell++)
        {
            if (!useFilled[cell]) continue;
            var (x0, y0, x1, y1) = CellRect(face.Width, face.Height, grid, cell);
            for (int y = y0; y < y1; y++)
            {
                int s = (y * face.Width + x0) * 3;
                Array.Copy(filled.Pixels, s, o, s, (x1 - x0) * 3);
            }
        }
        return new RgbImage(face.Width, face.Height, o);
    }
}
