using SkiaSharp;

namespace Xcos.ML.Figures;

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
