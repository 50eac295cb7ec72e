using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>Title, colour map and range, cell size and value labels of a <see cref="HeatmapFigure"/>.</summary>
internal sealed class HeatmapOptions
{
    /// <summary>Title above the map; none when null.</summary>
    public string? Title { get; set; }

    /// <summary>Colour scale. Default <see cref="ColorMap.Diverging"/>.</summary>
    public ColorMap ColorMap { get; set; } = ColorMap.Diverging;

    /// <summary>Value at the low end of the scale; null: the data minimum (or -max|v| for a diverging map).</summary>
    public float? Min { get; set; }

    /// <summary>Value at the high end of the scale; null: the data maximum (or max|v| for a diverging map).</summary>
    public float? Max { get; set; }

    /// <summary>Cell side in pixels. Default 48.</summary>
    public int CellSize { get; set; } = 48;

    /// <summary>Print each cell's value. Default true.</summary>
    public bool PrintValues { get; set; } = true;

    /// <summary>.NET format of printed values; null picks two or three decimals from the data.</summary>
    public string? ValueFormat { get; set; }

    /// <summary>Text size in pixels. Default 16.</summary>
    public float FontSize { get; set; } = 16;

    /// <summary>Font choice. Default <see cref="FigureFont.Auto"/>.</summary>
    public FigureFont Font { get; set; } = FigureFont.Auto;

    internal (float Min, float Max) Scale(float[] values)
    {
        var (lo, hi) = Panels.Range(values, ColorMap == ColorMap.Diverging);
        float min = Min ?? lo, max = Max ?? hi;
        if (!(max > min)) throw new ArgumentException($"colour scale needs Max > Min, got Min={min} Max={max}");
        return (min, max);
    }
}

/// <summary>A rows x cols map drawn as coloured cells with printed values and a colour bar.</summary>
internal static class HeatmapFigure
{
    /// <summary>Renders <paramref name="values"/> (row-major, rows*cols) as PNG bytes.</summary>
    public static byte[] RenderPng(float[] values, int rows, int cols, HeatmapOptions? options = null)
    {
        var o = options ?? new HeatmapOptions();
        CheckMap(values, rows, cols);
        if (o.CellSize < 4 || o.CellSize > 512) throw new ArgumentOutOfRangeException(nameof(options), o.CellSize, "CellSize must be in [4, 512]");
        var (min, max) = o.Scale(values);
        using var text = FigureText.Create(o.Font);
        float fs = o.FontSize, m = 16;
        float titleH = o.Title != null ? fs * 2f : 0;
        float w = cols * o.CellSize, h = rows * o.CellSize;
        float titleW = o.Title != null ? text.Measure(o.Title, fs * 1.1f) : 0;
        float width = Math.Max(m + w + 10 + 16 + 56 + m, titleW + 2 * m);
        var (bmp, c) = Panels.NewCanvas((int)Math.Ceiling(width), (int)Math.Ceiling(m + titleH + h + m));
        using (bmp)
        using (c)
        {
            if (o.Title != null) text.Draw(c, o.Title, width / 2, m + fs * 1.1f, fs * 1.1f, Panels.Ink, TextAlign.Center);
            var r = new SKRect(m, m + titleH, m + w, m + titleH + h);
            Panels.DrawHeatmap(c, text, r, values, rows, cols, o.ColorMap, min, max, o.PrintValues, o.ValueFormat, fs * 0.85f);
            Panels.DrawColorBar(c, text, new SKRect(r.Right + 10, r.Top, r.Right + 26, r.Bottom), o.ColorMap, min, max, fs * 0.8f);
            return Panels.Finish(bmp, c);
        }
    }

    /// <summary>Renders and writes the PNG atomically (temporary file, then rename).</summary>
    public static void Save(string path, float[] values, int rows, int cols, HeatmapOptions? options = null)
        => RgbPng.WriteAtomic(path, RenderPng(values, rows, cols, options));

    internal static void CheckMap(float[] values, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (rows < 1 || cols < 1) throw new ArgumentException($"map size {rows}x{cols} must be positive");
        if (values.Length != rows * cols) throw new ArgumentException($"map of {rows}x{cols} needs {rows * cols} values, got {values.Length}");
    }
}

/// <summary>Title, colour map and range, and opacity of a <see cref="MapOverlay"/>.</summary>
public sealed class MapOverlayOptions
{
    /// <summary>Title above the image; none when null.</summary>
    public string? Title { get; set; }

    /// <summary>Colour scale. Default <see cref="ColorMap.Heat"/> (the usual Grad-CAM look).</summary>
    public ColorMap ColorMap { get; set; } = ColorMap.Heat;

    /// <summary>Low end of the scale; null: data minimum (or -max|v| for a diverging map).</summary>
    public float? Min { get; set; }

    /// <summary>High end of the scale; null: data maximum (or max|v| for a diverging map).</summary>
    public float? Max { get; set; }

    /// <summary>Map opacity in [0, 1]. Default 0.5.</summary>
    public float Opacity { get; set; } = 0.5f;

    /// <summary>Scale opacity by |value| / max|value| so near-zero regions leave the image visible. Default false.</summary>
    public bool OpacityByMagnitude { get; set; }

    /// <summary>Interpolate the map bilinearly (true, default) or show blocky cells (false).</summary>
    public bool Smooth { get; set; } = true;

    /// <summary>Draw the map's cell grid. Default false.</summary>
    public bool DrawGrid { get; set; }

    /// <summary>Upscale factor of the image. Default 3.</summary>
    public int Scale { get; set; } = 3;

    /// <summary>Draw a colour bar to the right. Default true.</summary>
    public bool ColorBar { get; set; } = true;

    /// <summary>Text size in pixels. Default 16.</summary>
    public float FontSize { get; set; } = 16;

    /// <summary>Font choice. Default <see cref="FigureFont.Auto"/>.</summary>
    public FigureFont Font { get; set; } = FigureFont.Auto;
}

/// <summary>An image with a coarse map (Grad-CAM, patch contributions, ...) blended over it.</summary>
internal static class MapOverlay
{
    /// <summary>Renders RGB8 <paramref name="rgb"/> (width x height) with the rows x cols map stretched over it, as PNG bytes.</summary>
    public static byte[] RenderPng(byte[] rgb, int width, int height, float[] map, int rows, int cols, MapOverlayOptions? options = null)
    {
        var o = options ?? new MapOverlayOptions();
        HeatmapFigure.CheckMap(map, rows, cols);
        if (o.Scale < 1 || o.Scale > 16) throw new ArgumentOutOfRangeException(nameof(options), o.Scale, "Scale must be in [1, 16]");
        if (!(o.Opacity >= 0 && o.Opacity <= 1)) throw new ArgumentOutOfRangeException(nameof(options), o.Opacity, "Opacity must be in [0, 1]");
        using var img = RgbPng.ToBitmap(rgb, width, height);
        var (lo, hi) = Panels.Range(map, o.ColorMap == ColorMap.Diverging);
        float min = o.Min ?? lo, max = o.Max ?? hi;
        if (!(max > min)) throw new ArgumentException($"colour scale needs Max > Min, got Min={min} Max={max}");
        using var text = FigureText.Create(o.Font);
        float fs = o.FontSize, m = 12;
        float titleH = o.Title != null ? fs * 1.9f : 0;
        float w = width * o.Scale, h = height * o.Scale;
        float barW = o.ColorBar ? 10 + 16 + 56 : 0;
        float titleW = o.Title != null ? text.Measure(o.Title, fs) : 0;
        float total = Math.Max(m + w + barW + m, titleW + 2 * m);
        var (bmp, c) = Panels.NewCanvas((int)Math.Ceiling(total), (int)Math.Ceiling(m + titleH + h + m));
        using (bmp)
        using (c)
        {
            if (o.Title != null) text.Draw(c, o.Title, m + w / 2 + (total - 2 * m - w - barW) / 2, m + fs, fs, Panels.Ink, TextAlign.Center);
            var r = new SKRect(m, m + titleH, m + w, m + titleH + h);
            Panels.DrawImage(c, img, r);
            Panels.DrawOverlay(c, r, map, rows, cols, o.ColorMap, min, max, o.Opacity, o.OpacityByMagnitude, o.Smooth);
            if (o.DrawGrid) Panels.DrawGrid(c, r, rows, cols, new SKColor(255, 255, 255, 140), 1f);
            if (o.ColorBar) Panels.DrawColorBar(c, text, new SKRect(r.Right + 10, r.Top, r.Right + 26, r.Bottom), o.ColorMap, min, max, fs * 0.8f);
            return Panels.Finish(bmp, c);
        }
    }

    /// <summary>Renders and writes the PNG atomically (temporary file, then rename).</summary>
    public static void Save(string path, byte[] rgb, int width, int height, float[] map, int rows, int cols, MapOverlayOptions? options = null)
        => RgbPng.WriteAtomic(path, RenderPng(rgb, width, height, map, rows, cols, options));
}
