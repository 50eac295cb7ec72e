using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>One line of a <see cref="LinePlot"/>.</summary>
/// <param name="Name">Legend entry.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values, same length as <paramref name="X"/>.</param>
public sealed record PlotSeries(string Name, double[] X, double[] Y);

/// <summary>Options shared by <see cref="LinePlot"/> and <see cref="Histogram"/>.</summary>
public class PlotOptions
{
    /// <summary>Image width in pixels. Default 640.</summary>
    public int Width { get; set; } = 640;

    /// <summary>Image height in pixels. Default 480.</summary>
    public int Height { get; set; } = 480;

    /// <summary>Title above the plot; none when null.</summary>
    public string? Title { get; set; }

    /// <summary>Text under the x axis; none when null.</summary>
    public string? XLabel { get; set; }

    /// <summary>Text beside the y axis; none when null.</summary>
    public string? YLabel { get; set; }

    /// <summary>Fixed x range low end; null: from the data.</summary>
    public double? XMin { get; set; }

    /// <summary>Fixed x range high end; null: from the data.</summary>
    public double? XMax { get; set; }

    /// <summary>Fixed y range low end; null: from the data.</summary>
    public double? YMin { get; set; }

    /// <summary>Fixed y range high end; null: from the data.</summary>
    public double? YMax { get; set; }

    /// <summary>Text size in pixels. Default 14.</summary>
    public float FontSize { get; set; } = 14;

    /// <summary>Font choice. Default <see cref="FigureFont.Auto"/>.</summary>
    public FigureFont Font { get; set; } = FigureFont.Auto;

    internal void Validate()
    {
        if (Width < 120 || Width > 8192 || Height < 100 || Height > 8192)
            throw new ArgumentOutOfRangeException(nameof(Width), $"{Width}x{Height}", "plot size must be within [120, 8192] x [100, 8192]");
        if (!(FontSize >= 6 && FontSize <= 72)) throw new ArgumentOutOfRangeException(nameof(FontSize), FontSize, "must be in [6, 72]");
    }
}

/// <summary>Axes plus the extras of a <see cref="LinePlot"/>: chance diagonal, legend place, line width.</summary>
public sealed class LinePlotOptions : PlotOptions
{
    /// <summary>Draw the dashed y = x diagonal (chance line of a ROC plot). Default false.</summary>
    public bool Diagonal { get; set; }

    /// <summary>Legend corner: true lower right (ROC curves), false upper right. Default true.</summary>
    public bool LegendBottomRight { get; set; } = true;

    /// <summary>Line width in pixels. Default 2.</summary>
    public float LineWidth { get; set; } = 2f;
}

/// <summary>Axes plus the bins and the two series' labels of a <see cref="Histogram"/>.</summary>
public sealed class HistogramOptions : PlotOptions
{
    /// <summary>Number of bins over the common range. Default 40.</summary>
    public int Bins { get; set; } = 40;

    /// <summary>Legend name of the first distribution. Default "same".</summary>
    public string Label1 { get; set; } = "same";

    /// <summary>Legend name of the second distribution. Default "different".</summary>
    public string Label2 { get; set; } = "different";

    /// <summary>Vertical line position (a decision threshold); none when null.</summary>
    public double? Threshold { get; set; }

    /// <summary>Legend name of the threshold line. Default "threshold".</summary>
    public string ThresholdLabel { get; set; } = "threshold";

    /// <summary>Show densities (each distribution integrates to 1) instead of counts. Default true.</summary>
    public bool Density { get; set; } = true;
}

/// <summary>Frame, ticks, grid and labels of a 2-D plot, with data-to-pixel mapping.</summary>
internal sealed class Axes
{
    public SKRect Area;
    public double X0, X1, Y0, Y1;

    public float Px(double x) => (float)(Area.Left + (x - X0) / (X1 - X0) * Area.Width);
    public float Py(double y) => (float)(Area.Bottom - (y - Y0) / (Y1 - Y0) * Area.Height);

    public static Axes Draw(SKCanvas c, FigureText text, PlotOptions o, double x0, double x1, double y0, double y1)
    {
        float fs = o.FontSize;
        float top = 12 + (o.Title != null ? fs * 1.9f : 4);
        float left = 14 + (o.YLabel != null ? fs * 1.5f : 0) + text.Measure("-0.000", fs * 0.9f) + 8;
        float bottom = o.Height - (12 + fs * 1.6f + (o.XLabel != null ? fs * 1.5f : 0));
        float right = o.Width - 20;
        var a = new Axes { Area = new SKRect(left, top, right, bottom), X0 = x0, X1 = x1, Y0 = y0, Y1 = y1 };
        if (o.Title != null) text.Draw(c, o.Title, (left + right) / 2, 12 + fs * 1.2f, fs * 1.15f, Panels.Ink, TextAlign.Center);

        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1, Style = SKPaintStyle.Stroke };
        using var axis = new SKPaint { Color = Panels.Ink, StrokeWidth = 1.2f, Style = SKPaintStyle.Stroke, IsAntialias = true };
        var xt = Panels.NiceTicks(x0, x1, Math.Clamp((int)(a.Area.Width / 80), 3, 11));
        var yt = Panels.NiceTicks(y0, y1, Math.Clamp((int)(a.Area.Height / 60), 3, 11));
        string xf = Panels.TickFormat(xt), yf = Panels.TickFormat(yt);
        foreach (var t in xt)
        {
            float x = MathF.Round(a.Px(t)) + 0.5f;
            c.DrawLine(x, a.Area.Top, x, a.Area.Bottom, grid);
            c.DrawLine(x, a.Area.Bottom, x, a.Area.Bottom + 5, axis);
            text.Draw(c, Panels.FormatTick(t, xf), x, a.Area.Bottom + 7 + fs * 0.95f, fs * 0.9f, Panels.Ink, TextAlign.Center);
        }
        foreach (var t in yt)
        {
            float y = MathF.Round(a.Py(t)) + 0.5f;
            c.DrawLine(a.Area.Left, y, a.Area.Right, y, grid);
            c.DrawLine(a.Area.Left - 5, y, a.Area.Left, y, axis);
            text.Draw(c, Panels.FormatTick(t, yf), a.Area.Left - 8, y + 0.33f * fs, fs * 0.9f, Panels.Ink, TextAlign.Right);
        }
        c.DrawRect(a.Area, axis);
        if (o.XLabel != null) text.Draw(c, o.XLabel, a.Area.MidX, o.Height - 12, fs, Panels.Ink, TextAlign.Center);
        if (o.YLabel != null) text.DrawVertical(c, o.YLabel, 12 + fs * 0.5f, a.Area.MidY, fs, Panels.Ink);
        return a;
    }

    /// <summary>Legend box with a line or swatch per entry in a corner of the plot area.</summary>
    public void Legend(SKCanvas c, FigureText text, float fs, IReadOnlyList<(string Name, SKColor Color, bool Swatch, bool Dashed)> entries, bool bottomRight)
    {
        if (entries.Count == 0) return;
        float lfs = fs * 0.9f, row = lfs * 1.5f, key = 26;
        float w = entries.Max(e => text.Measure(e.Name, lfs)) + key + 22;
        float h = entries.Count * row + 8;
        float x = Area.Right - w - 10, y = bottomRight ? Area.Bottom - h - 10 : Area.Top + 10;
        using var bg = new SKPaint { Color = new SKColor(255, 255, 255, 230), Style = SKPaintStyle.Fill };
        using var border = new SKPaint { Color = new SKColor(160, 160, 160), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        c.DrawRect(x, y, w, h, bg);
        c.DrawRect(x, y, w, h, border);
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            float cy = y + 4 + row * (i + 0.5f);
            if (e.Swatch)
            {
                using var f = new SKPaint { Color = e.Color, Style = SKPaintStyle.Fill };
                c.DrawRect(x + 8, cy - lfs * 0.4f, key - 4, lfs * 0.8f, f);
            }
            else
            {
                using var l = LinePaint(e.Color, 2.2f, e.Dashed);
                c.DrawLine(x + 8, cy, x + 8 + key - 4, cy, l);
            }
            text.Draw(c, e.Name, x + 12 + key, cy + 0.36f * lfs, lfs, Panels.Ink);
        }
    }

    public static SKPaint LinePaint(SKColor color, float width, bool dashed) => new()
    {
        Color = color, StrokeWidth = width, Style = SKPaintStyle.Stroke, IsAntialias = true,
        StrokeJoin = SKStrokeJoin.Round, StrokeCap = SKStrokeCap.Round,
        PathEffect = dashed ? SKPathEffect.CreateDash([6, 5], 0) : null,
    };

    /// <summary>Tableau-like qualitative colours for series.</summary>
    public static readonly SKColor[] Palette =
    [
        new(31, 119, 180), new(214, 39, 40), new(44, 160, 44), new(255, 127, 14), new(148, 103, 189),
        new(140, 86, 75), new(227, 119, 194), new(127, 127, 127), new(188, 189, 34), new(23, 190, 207),
    ];

    /// <summary>Range of finite values padded by 4% (or a unit window around a constant).</summary>
    public static (double Lo, double Hi) Extent(IEnumerable<double> values, double? fixedLo, double? fixedHi, bool pad = true)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in values) if (double.IsFinite(v)) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        if (double.IsInfinity(lo)) { lo = 0; hi = 1; }
        if (hi <= lo) { lo -= 0.5; hi += 0.5; }
        else if (pad) { double p = (hi - lo) * 0.04; lo -= p; hi += p; }
        lo = fixedLo ?? lo; hi = fixedHi ?? hi;
        if (!(hi > lo)) throw new ArgumentException($"axis range needs max > min, got [{lo}, {hi}]");
        return (lo, hi);
    }
}

/// <summary>Line plot of several series with axes, ticks, labels and a legend (ROC curves and the like).</summary>
public static class LinePlot
{
    /// <summary>Renders the series as PNG bytes.</summary>
    public static byte[] RenderPng(IReadOnlyList<PlotSeries> series, LinePlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        var o = options ?? new LinePlotOptions();
        o.Validate();
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i] ?? throw new ArgumentException($"series {i} is null");
            if (s.X == null || s.Y == null || s.X.Length != s.Y.Length)
                throw new ArgumentException($"series {i} ('{s.Name}'): X and Y must be non-null and of equal length, got {s.X?.Length} and {s.Y?.Length}");
        }
        var (x0, x1) = Axes.Extent(series.SelectMany(s => s.X), o.XMin, o.XMax);
        var (y0, y1) = Axes.Extent(series.SelectMany(s => s.Y), o.YMin, o.YMax);
        using var text = FigureText.Create(o.Font);
        var (bmp, c) = Panels.NewCanvas(o.Width, o.Height);
        using (bmp)
        using (c)
        {
            var a = Axes.Draw(c, text, o, x0, x1, y0, y1);
            c.Save();
            c.ClipRect(a.Area);
            if (o.Diagonal)
            {
                using var d = Axes.LinePaint(new SKColor(150, 150, 150), 1.2f, dashed: true);
                double lo = Math.Max(x0, y0), hi = Math.Min(x1, y1);
                if (hi > lo) c.DrawLine(a.Px(lo), a.Py(lo), a.Px(hi), a.Py(hi), d);
            }
            var legend = new List<(string, SKColor, bool, bool)>();
            for (int i = 0; i < series.Count; i++)
            {
                var s = series[i];
                var color = Axes.Palette[i % Axes.Palette.Length];
                using var p = Axes.LinePaint(color, o.LineWidth, dashed: i >= Axes.Palette.Length);
                using var path = new SKPath();
                bool pen = false;
                for (int k = 0; k < s.X.Length; k++)
                {
                    if (!double.IsFinite(s.X[k]) || !double.IsFinite(s.Y[k])) { pen = false; continue; }
                    if (!pen) path.MoveTo(a.Px(s.X[k]), a.Py(s.Y[k])); else path.LineTo(a.Px(s.X[k]), a.Py(s.Y[k]));
                    pen = true;
                }
                c.DrawPath(path, p);
                legend.Add((s.Name, color, false, i >= Axes.Palette.Length));
            }
            c.Restore();
            a.Legend(c, text, o.FontSize, legend, o.LegendBottomRight);
            return Panels.Finish(bmp, c);
        }
    }

    /// <summary>Renders and writes the PNG atomically (temporary file, then rename).</summary>
    public static void Save(string path, IReadOnlyList<PlotSeries> series, LinePlotOptions? options = null)
        => RgbPng.WriteAtomic(path, RenderPng(series, options));
}

/// <summary>Two overlaid histograms (e.g. same/different pair scores) with an optional vertical threshold line.</summary>
public static class Histogram
{
    private static readonly SKColor C1 = new(44, 160, 44), C2 = new(214, 39, 40);

    /// <summary>Renders the two distributions as PNG bytes; non-finite values are ignored.</summary>
    public static byte[] RenderPng(double[] values1, double[] values2, HistogramOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(values1);
        ArgumentNullException.ThrowIfNull(values2);
        var o = options ?? new HistogramOptions();
        o.Validate();
        if (o.Bins < 1 || o.Bins > 1000) throw new ArgumentOutOfRangeException(nameof(options), o.Bins, "Bins must be in [1, 1000]");
        var all = values1.Concat(values2).Concat(o.Threshold is { } t ? [t] : []);
        var (x0, x1) = Axes.Extent(all, o.XMin, o.XMax);
        double bw = (x1 - x0) / o.Bins;
        var h1 = Bin(values1, x0, bw, o.Bins, o.Density);
        var h2 = Bin(values2, x0, bw, o.Bins, o.Density);
        double top = Math.Max(h1.DefaultIfEmpty(0).Max(), h2.DefaultIfEmpty(0).Max());
        var (y0, y1) = (o.YMin ?? 0, o.YMax ?? (top > 0 ? top * 1.08 : 1));
        if (!(y1 > y0)) throw new ArgumentException($"y range needs max > min, got [{y0}, {y1}]");
        using var text = FigureText.Create(o.Font);
        var (bmp, c) = Panels.NewCanvas(o.Width, o.Height);
        using (bmp)
        using (c)
        {
            var a = Axes.Draw(c, text, o, x0, x1, y0, y1);
            c.Save();
            c.ClipRect(a.Area);
            foreach (var (h, col) in new[] { (h1, C1), (h2, C2) })
            {
                using var fill = new SKPaint { Color = col.WithAlpha(90), Style = SKPaintStyle.Fill };
                using var edge = Axes.LinePaint(col, 1.6f, false);
                using var outline = new SKPath();
                outline.MoveTo(a.Px(x0), a.Py(y0));
                for (int b = 0; b < o.Bins; b++)
                {
                    float l = a.Px(x0 + b * bw), r = a.Px(x0 + (b + 1) * bw), y = a.Py(h[b]);
                    c.DrawRect(new SKRect(l, y, r, a.Py(y0)), fill);
                    outline.LineTo(l, y);
                    outline.LineTo(r, y);
                }
                outline.LineTo(a.Px(x1), a.Py(y0));
                c.DrawPath(outline, edge);
            }
            var legend = new List<(string, SKColor, bool, bool)>
            {
                ($"{o.Label1} (n={values1.Count(double.IsFinite)})", C1, true, false),
                ($"{o.Label2} (n={values2.Count(double.IsFinite)})", C2, true, false),
            };
            if (o.Threshold is { } th)
            {
                using var line = Axes.LinePaint(Panels.Ink, 1.8f, dashed: true);
                c.DrawLine(a.Px(th), a.Area.Top, a.Px(th), a.Area.Bottom, line);
                legend.Add(($"{o.ThresholdLabel} = {th.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)}", Panels.Ink, false, true));
            }
            c.Restore();
            a.Legend(c, text, o.FontSize, legend, bottomRight: false);
            return Panels.Finish(bmp, c);
        }
    }

    /// <summary>Renders and writes the PNG atomically (temporary file, then rename).</summary>
    public static void Save(string path, double[] values1, double[] values2, HistogramOptions? options = null)
        => RgbPng.WriteAtomic(path, RenderPng(values1, values2, options));

    private static double[] Bin(double[] v, double x0, double bw, int bins, bool density)
    {
        var h = new double[bins];
        int n = 0;
        foreach (var x in v)
        {
            if (!double.IsFinite(x)) continue;
            int b = (int)Math.Floor((x - x0) / bw);
            if (b < 0 || b >= bins + 1) continue;
            h[Math.Min(b, bins - 1)]++;
            n++;
        }
        if (density && n > 0) for (int i = 0; i < bins; i++) h[i] /= n * bw;
        return h;
    }
}
