using SkiaSharp;

namespace Xcos.ML.Figures;

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
