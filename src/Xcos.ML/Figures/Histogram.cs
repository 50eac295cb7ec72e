using SkiaSharp;

namespace Xcos.ML.Figures;

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
