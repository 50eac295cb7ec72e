using System.Globalization;
using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>Drawing pieces shared by the figures: images with grids, heatmaps with printed values, colour bars, overlays, axes ticks.</summary>
internal static class Panels
{
    public static readonly SKColor Ink = new(25, 25, 25);
    public static readonly SKColor Muted = new(90, 90, 90);
    public static readonly SKColor Background = SKColors.White;

    /// <summary>A white canvas of the given size (caller disposes both).</summary>
    public static (SKBitmap Bitmap, SKCanvas Canvas) NewCanvas(int width, int height)
    {
        var bmp = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var c = new SKCanvas(bmp);
        c.Clear(Background);
        return (bmp, c);
    }

    public static byte[] Finish(SKBitmap bmp, SKCanvas canvas)
    {
        canvas.Flush();
        return RgbPng.Encode(bmp);
    }

    public static void DrawImage(SKCanvas c, SKBitmap img, SKRect dst)
    {
        using var p = new SKPaint { FilterQuality = SKFilterQuality.High, IsAntialias = true };
        c.DrawBitmap(img, dst, p);
    }

    public static void DrawGrid(SKCanvas c, SKRect r, int rows, int cols, SKColor color, float width = 1.2f)
    {
        using var p = new SKPaint { Color = color, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = width };
        for (int i = 1; i < cols; i++) { float x = r.Left + r.Width * i / cols; c.DrawLine(x, r.Top, x, r.Bottom, p); }
        for (int j = 1; j < rows; j++) { float y = r.Top + r.Height * j / rows; c.DrawLine(r.Left, y, r.Right, y, p); }
        c.DrawRect(r, p);
    }

    /// <summary>Coloured cells with optional printed values; NaN cells are grey.</summary>
    public static void DrawHeatmap(SKCanvas c, FigureText text, SKRect r, float[] values, int rows, int cols, ColorMap map,
        float min, float max, bool printValues, string? format, float fontSize)
    {
        float cw = r.Width / cols, ch = r.Height / rows;
        using var fill = new SKPaint { Style = SKPaintStyle.Fill, IsAntialias = false };
        format ??= AutoFormat(values);
        float fs = Math.Min(fontSize, Math.Min(cw * 0.3f, ch * 0.42f));
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
            {
                float v = values[y * cols + x];
                var col = ColorMaps.At(map, v, min, max);
                fill.Color = col;
                // Cells are snapped to whole pixels so neighbours do not leave hairline seams.
                var cell = new SKRect(MathF.Round(r.Left + x * cw), MathF.Round(r.Top + y * ch), MathF.Round(r.Left + (x + 1) * cw), MathF.Round(r.Top + (y + 1) * ch));
                c.DrawRect(cell, fill);
                if (printValues && fs >= 5)
                    text.DrawCentered(c, float.IsNaN(v) ? "nan" : FormatValue(v, format), cell.MidX, cell.MidY, fs, ColorMaps.TextOn(col));
            }
        DrawGrid(c, r, rows, cols, new SKColor(255, 255, 255, 110), 1f);
        using var border = new SKPaint { Color = Muted, Style = SKPaintStyle.Stroke, StrokeWidth = 1, IsAntialias = true };
        c.DrawRect(r, border);
    }

    /// <summary>A vertical colour bar in <paramref name="r"/> with ticks and labels to its right.</summary>
    public static void DrawColorBar(SKCanvas c, FigureText text, SKRect r, ColorMap map, float min, float max, float fontSize)
    {
        int n = Math.Max(2, (int)r.Height);
        using var p = new SKPaint { Style = SKPaintStyle.Fill };
        for (int i = 0; i < n; i++)
        {
            float t = 1f - (i + 0.5f) / n;
            p.Color = ColorMaps.At(map, t);
            c.DrawRect(r.Left, r.Top + r.Height * i / n, r.Width, r.Height / n + 1, p);
        }
        using var border = new SKPaint { Color = Muted, Style = SKPaintStyle.Stroke, StrokeWidth = 1, IsAntialias = true };
        c.DrawRect(r, border);
        var ticks = NiceTicks(min, max, 5);
        string fmt = TickFormat(ticks);
        foreach (var tv in ticks)
        {
            float y = r.Bottom - (float)((tv - min) / (max - min)) * r.Height;
            c.DrawLine(r.Right, y, r.Right + 4, y, border);
            text.Draw(c, FormatTick(tv, fmt), r.Right + 7, y + 0.36f * fontSize, fontSize, Ink);
        }
    }

    /// <summary>Blends a coloured map over an area; alpha grows with |value| when <paramref name="alphaByMagnitude"/>.</summary>
    public static void DrawOverlay(SKCanvas c, SKRect r, float[] values, int rows, int cols, ColorMap map, float min, float max,
        float opacity, bool alphaByMagnitude, bool smooth)
    {
        using var small = new SKBitmap(new SKImageInfo(cols, rows, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        float absMax = Math.Max(Math.Abs(min), Math.Abs(max));
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
            {
                float v = values[y * cols + x];
                var col = ColorMaps.At(map, v, min, max);
                float a = opacity;
                if (alphaByMagnitude) a *= absMax > 0 && !float.IsNaN(v) ? Math.Min(1f, Math.Abs(v) / absMax) : 0f;
                small.SetPixel(x, y, col.WithAlpha((byte)Math.Round(255 * Math.Clamp(a, 0f, 1f))));
            }
        using var p = new SKPaint { FilterQuality = smooth ? SKFilterQuality.Medium : SKFilterQuality.None, IsAntialias = smooth };
        c.DrawBitmap(small, r, p);
    }

    /// <summary>About <paramref name="target"/> round tick values covering [min, max].</summary>
    public static double[] NiceTicks(double min, double max, int target)
    {
        if (!(max > min) || double.IsInfinity(max - min)) return [min];
        double raw = (max - min) / Math.Max(1, target - 1);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / mag;
        double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
        var ticks = new List<double>();
        double start = Math.Ceiling(min / step - 1e-9) * step;
        for (double t = start; t <= max + step * 1e-9; t += step)
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return ticks.ToArray();
    }

    public static string TickFormat(double[] ticks)
    {
        if (ticks.Length < 2) return "0.###";
        double step = Math.Abs(ticks[1] - ticks[0]);
        int dec = Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));
        return dec == 0 ? "0" : "0." + new string('0', Math.Min(dec, 6));
    }

    public static string FormatTick(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);

    /// <summary>Two decimals for values of order one, three significant-ish decimals for small ones (attention weights).</summary>
    public static string AutoFormat(float[] values)
    {
        float m = 0;
        foreach (var v in values) if (!float.IsNaN(v)) m = Math.Max(m, Math.Abs(v));
        return m >= 0.095f ? "0.00" : m >= 0.0095f ? "0.000" : "0.0E0";
    }

    public static string FormatValue(float v, string format)
    {
        var s = v.ToString(format, CultureInfo.InvariantCulture);
        // Drop the leading zero so two-decimal values fit small cells: 0.82 -> .82, -0.35 -> -.35.
        if (s.StartsWith("0.", StringComparison.Ordinal)) s = s[1..];
        else if (s.StartsWith("-0.", StringComparison.Ordinal)) s = "-" + s[2..];
        return s == "-.00" ? ".00" : s;
    }

    public static (float Min, float Max) Range(float[] values, bool symmetric)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var v in values) if (!float.IsNaN(v)) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        if (float.IsInfinity(lo)) return (0, 1);
        if (symmetric)
        {
            float m = Math.Max(Math.Abs(lo), Math.Abs(hi));
            return m > 0 ? (-m, m) : (-1, 1);
        }
        return hi > lo ? (lo, hi) : (lo - 0.5f, lo + 0.5f);
    }
}
