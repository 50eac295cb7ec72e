using SkiaSharp;
using Xcos.ML.Figures;
using Xunit;

namespace Xcos.ML.Tests;

public class FigureTests
{
    private static byte[] Grey(int w, int h, byte v = 128) => Enumerable.Repeat(v, w * h * 3).ToArray();

    private static ExplanationInput Input(float[] cos, string? title = "Pair 1", float[]? extra = null) => new()
    {
        Face1Rgb = Grey(112, 112), Face2Rgb = Grey(112, 112, 160),
        CosMap = cos, Attention = Enumerable.Repeat(1f / 49, 49).ToArray(),
        Score = 0.42, Cosine = 0.37, Threshold = 0.3, Title = title, ExtraMap = extra,
    };

    private static float[] CornerMap()
    {
        var cos = new float[49];
        cos[0] = 1f;    // top-left: agreeing patches
        cos[48] = -1f;  // bottom-right: disagreeing patches
        return cos;
    }

    [Theory]
    [InlineData(FigureFont.Auto)]
    [InlineData(FigureFont.Builtin)]
    public void ExplanationFigure_RendersDecodablePngWithTextAndDivergingColours(FigureFont font)
    {
        var o = new ExplanationFigureOptions { Font = font };
        var png = ExplanationFigure.RenderPng(Input(CornerMap()), o);
        var (rgb, w, h) = RgbPng.DecodeRgb(png);
        // Two 336-px faces and two 336-px maps side by side, one row of panels under the title.
        Assert.InRange(w, 4 * 336, 4 * 336 + 400);
        Assert.InRange(h, 336 + 40, 336 + 200);

        // Text: the title band above the panels has dark ink.
        Assert.True(CountPixels(rgb, w, 0, w, 0, 60, (r, g, b) => r < 100 && g < 100 && b < 100) > 150, "title text missing");

        // The +1 cell is a wide red block, the -1 cell a wide blue block (the colour bars are only 16 px wide).
        Assert.True(RowsWithRun(rgb, w, h, (r, g, b) => r > 100 && r > g + 60 && r > b + 60, 30) >= 30, "no red cell for cos = +1");
        Assert.True(RowsWithRun(rgb, w, h, (r, g, b) => b > 80 && b > r + 40 && g < b, 30) >= 30, "no blue cell for cos = -1");

        // The test can fail: with all cosines 0 there is no wide red or blue block.
        var (zero, zw, zh) = RgbPng.DecodeRgb(ExplanationFigure.RenderPng(Input(new float[49]), o));
        Assert.Equal(0, RowsWithRun(zero, zw, zh, (r, g, b) => r > 100 && r > g + 60 && r > b + 60, 30));
    }

    [Fact]
    public void ExplanationFigure_ScalesWithFaceScaleAndExtraMapAddsAPanel()
    {
        var (_, w3, h3) = RgbPng.DecodeRgb(ExplanationFigure.RenderPng(Input(CornerMap())));
        var (_, w2, h2) = RgbPng.DecodeRgb(ExplanationFigure.RenderPng(Input(CornerMap()), new ExplanationFigureOptions { FaceScale = 2 }));
        Assert.Equal(4 * 112, w3 - w2);
        Assert.Equal(112, h3 - h2);
        var (_, we, _) = RgbPng.DecodeRgb(ExplanationFigure.RenderPng(Input(CornerMap(), extra: CornerMap())));
        Assert.True(we > w3 + 336, $"extra map should add a panel: {we} vs {w3}");
    }

    [Fact]
    public void OverlayFigure_TintsFacesRedAndBlueWhereContributionsAre()
    {
        var png = ExplanationFigure.RenderOverlayPng(Input(CornerMap(), title: null));
        var (rgb, w, h) = RgbPng.DecodeRgb(png);
        Assert.True(w >= 2 * 336 && h >= 336);
        // Faces are flat grey, so any strongly red/blue pixels in a face come from the overlay.
        Assert.True(RowsWithRun(rgb, w, h, (r, g, b) => r > g + 40 && r > b + 40, 30) >= 30);
        Assert.True(RowsWithRun(rgb, w, h, (r, g, b) => b > r + 30, 30) >= 30);
    }

    [Fact]
    public void MLImage_variants_hold_the_same_pixels_as_the_pngs()
    {
        foreach (var (png, image) in new[]
        {
            (ExplanationFigure.RenderPng(Input(CornerMap())), ExplanationFigure.RenderMLImage(Input(CornerMap()))),
            (ExplanationFigure.RenderOverlayPng(Input(CornerMap())), ExplanationFigure.RenderOverlayMLImage(Input(CornerMap()))),
        })
        {
            using (image)
            {
                var (rgb, w, h) = RgbPng.DecodeRgb(png);
                Assert.Equal((w, h), (image.Width, image.Height));
                var bgr = image.GetBGRPixels;
                Assert.Equal(rgb.Length, bgr.Length);
                int differing = 0;
                for (int i = 0; i < rgb.Length; i += 3)
                    if (rgb[i] != bgr[i + 2] || rgb[i + 1] != bgr[i + 1] || rgb[i + 2] != bgr[i]) differing++;
                Assert.Equal(0, differing);
            }
        }
        Assert.Throws<ArgumentException>(() => ExplanationFigure.RenderMLImage(Input(new float[48])));
    }

    [Fact]
    public void Save_WritesTheRenderedBytesWithoutTemporaryLeftovers()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xcos_fig_" + Guid.NewGuid().ToString("N"));
        try
        {
            var path = Path.Combine(dir, "sub", "fig.png");
            ExplanationFigure.Save(path, Input(CornerMap()));
            Assert.Equal(ExplanationFigure.RenderPng(Input(CornerMap())), File.ReadAllBytes(path));
            Assert.Single(Directory.GetFiles(Path.Combine(dir, "sub")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BadInput_GivesClearErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => ExplanationFigure.RenderPng(Input(new float[48])));
        Assert.Contains("CosMap", e.Message);
        var bad = new ExplanationInput
        {
            Face1Rgb = new byte[10], Face2Rgb = Grey(112, 112), CosMap = new float[49], Attention = new float[49],
            Score = 0, Cosine = 0, Threshold = 0,
        };
        e = Assert.Throws<ArgumentException>(() => ExplanationFigure.RenderPng(bad));
        Assert.Contains("face 1", e.Message);
        Assert.Throws<ArgumentException>(() => HeatmapFigure.RenderPng(new float[5], 2, 3));
    }

    [Fact]
    public void BuiltinStrokeFont_DrawsDistinctGlyphs()
    {
        using var text = new FigureText.StrokeText();
        byte[] Draw(string s)
        {
            using var bmp = new SKBitmap(new SKImageInfo(120, 30, SKColorType.Rgba8888, SKAlphaType.Premul));
            using var c = new SKCanvas(bmp);
            c.Clear(SKColors.White);
            text.Draw(c, s, 4, 24, 20, SKColors.Black);
            return bmp.Bytes;
        }
        var a = Draw("0.85"); var b = Draw("0.36"); var box = Draw("\u4e00\u4e00\u4e00\u4e00");
        Assert.True(a.Count(v => v < 128) > 40, "glyphs should leave ink");
        Assert.NotEqual(a, b);
        Assert.True(text.Measure("xCos 0.412", 16) > text.Measure("xCos", 16));
        // Every letter and digit has its own glyph (none falls back to the box).
        Assert.All("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", ch => Assert.NotEqual(Draw(new string(ch, 4)), box));
    }

    [Fact]
    public void HeatmapAndMapOverlay_HaveExpectedSizes()
    {
        var map = Enumerable.Range(0, 49).Select(i => (i - 24) / 24f).ToArray();
        var (_, w, h) = RgbPng.DecodeRgb(HeatmapFigure.RenderPng(map, 7, 7, new HeatmapOptions { CellSize = 40 }));
        Assert.True(w >= 280 && h >= 280 && h < 280 + 60, $"{w}x{h}");
        var (rgb, ow, oh) = RgbPng.DecodeRgb(MapOverlay.RenderPng(Grey(112, 112), 112, 112, map, 7, 7, new MapOverlayOptions { ColorBar = false }));
        Assert.Equal((336 + 24, 336 + 24), (ow, oh));
        Assert.True(CountPixels(rgb, ow, 12, 348, 12, 348, (r, g, b) => Math.Abs(r - b) > 40) > 1000, "the map should tint the image");
    }

    [Fact]
    public void LinePlotAndHistogram_RenderAtRequestedSizeWithSeriesColours()
    {
        var x = Enumerable.Range(0, 51).Select(i => i / 50.0).ToArray();
        var series = new[] { new PlotSeries("a", x, x.Select(v => Math.Sqrt(v)).ToArray()), new PlotSeries("b", x, x) };
        var (rgb, w, h) = RgbPng.DecodeRgb(LinePlot.RenderPng(series, new LinePlotOptions { Width = 500, Height = 400, Title = "ROC", XLabel = "FPR", YLabel = "TPR", Diagonal = true }));
        Assert.Equal((500, 400), (w, h));
        Assert.True(CountPixels(rgb, w, 0, w, 0, h, (r, g, b) => b > 150 && r < 80) > 100, "first series (blue) missing");
        Assert.True(CountPixels(rgb, w, 0, w, 0, h, (r, g, b) => r > 180 && g < 80 && b < 80) > 100, "second series (red) missing");

        var same = Enumerable.Range(0, 200).Select(i => 0.6 + 0.1 * Math.Sin(i)).ToArray();
        var diff = Enumerable.Range(0, 200).Select(i => 0.1 + 0.1 * Math.Cos(i)).ToArray();
        var (hr, hw, hh) = RgbPng.DecodeRgb(Histogram.RenderPng(same, diff, new HistogramOptions { Threshold = 0.35 }));
        Assert.Equal((640, 480), (hw, hh));
        Assert.True(CountPixels(hr, hw, 0, hw, 0, hh, (r, g, b) => g > r + 40 && g > b + 40) > 500, "green 'same' bars missing");
        Assert.Throws<ArgumentException>(() => LinePlot.RenderPng([new PlotSeries("bad", x, new double[3])]));
    }

    private static int CountPixels(byte[] rgb, int w, int x0, int x1, int y0, int y1, Func<int, int, int, bool> pred)
    {
        int n = 0;
        int h = rgb.Length / 3 / w;
        for (int y = Math.Max(0, y0); y < Math.Min(h, y1); y++)
            for (int x = Math.Max(0, x0); x < Math.Min(w, x1); x++)
            {
                int i = 3 * (y * w + x);
                if (pred(rgb[i], rgb[i + 1], rgb[i + 2])) n++;
            }
        return n;
    }

    /// <summary>Number of rows holding a run of at least <paramref name="run"/> consecutive matching pixels.</summary>
    private static int RowsWithRun(byte[] rgb, int w, int h, Func<int, int, int, bool> pred, int run)
    {
        int rows = 0;
        for (int y = 0; y < h; y++)
        {
            int cur = 0, best = 0;
            for (int x = 0; x < w; x++)
            {
                int i = 3 * (y * w + x);
                cur = pred(rgb[i], rgb[i + 1], rgb[i + 2]) ? cur + 1 : 0;
                best = Math.Max(best, cur);
            }
            if (best >= run) rows++;
        }
        return rows;
    }
}
