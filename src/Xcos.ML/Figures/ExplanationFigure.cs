using System.Globalization;
using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>What an xCos explanation figure shows: two faces, the patch cosine and attention maps, and the scores.</summary>
public sealed class ExplanationInput
{
    /// <summary>First face, interleaved RGB8, <c>Face1Width * Face1Height * 3</c> bytes.</summary>
    public required byte[] Face1Rgb { get; init; }

    /// <summary>Width of face 1 in pixels. Default 112.</summary>
    public int Face1Width { get; init; } = 112;

    /// <summary>Height of face 1 in pixels. Default 112.</summary>
    public int Face1Height { get; init; } = 112;

    /// <summary>Second face, interleaved RGB8.</summary>
    public required byte[] Face2Rgb { get; init; }

    /// <summary>Width of face 2 in pixels. Default 112.</summary>
    public int Face2Width { get; init; } = 112;

    /// <summary>Height of face 2 in pixels. Default 112.</summary>
    public int Face2Height { get; init; } = 112;

    /// <summary>Patch cosine map, row-major, G*G values (49 for the 7x7 grid), each in [-1, 1].</summary>
    public required float[] CosMap { get; init; }

    /// <summary>Attention weights, row-major, same length as <see cref="CosMap"/> (they usually sum to 1).</summary>
    public required float[] Attention { get; init; }

    /// <summary>The xCos score (sum of cosine times attention).</summary>
    public required double Score { get; init; }

    /// <summary>Plain cosine similarity of the two embeddings.</summary>
    public required double Cosine { get; init; }

    /// <summary>Decision threshold on <see cref="Score"/>.</summary>
    public required double Threshold { get; init; }

    /// <summary>The verdict; when null it is <c>Score &gt;= Threshold</c>.</summary>
    public bool? Same { get; init; }

    /// <summary>Optional title line above the scores.</summary>
    public string? Title { get; init; }

    /// <summary>Caption over face 1. Default "Face 1".</summary>
    public string? Face1Label { get; init; }

    /// <summary>Caption over face 2. Default "Face 2".</summary>
    public string? Face2Label { get; init; }

    /// <summary>Title of the map panel (default "Patch cosine"; "Cell share" for an anchored head, whose map is each cell's share of xCos).</summary>
    public string? CosMapTitle { get; init; }

    /// <summary>Optional third map (for example additive contributions), same length as <see cref="CosMap"/>.</summary>
    public float[]? ExtraMap { get; init; }

    /// <summary>Caption of <see cref="ExtraMap"/>. Default "Contribution".</summary>
    public string? ExtraMapTitle { get; init; }

    internal bool Verdict => Same ?? Score >= Threshold;

    internal int Grid()
    {
        ArgumentNullException.ThrowIfNull(CosMap, nameof(CosMap));
        ArgumentNullException.ThrowIfNull(Attention, nameof(Attention));
        int g = (int)Math.Round(Math.Sqrt(CosMap.Length));
        if (g < 1 || g * g != CosMap.Length)
            throw new ArgumentException($"CosMap must hold G*G values for a square patch grid (49 for 7x7), got {CosMap.Length}");
        if (Attention.Length != CosMap.Length)
            throw new ArgumentException($"Attention must have the same length as CosMap ({CosMap.Length}), got {Attention.Length}");
        if (ExtraMap != null && ExtraMap.Length != CosMap.Length)
            throw new ArgumentException($"ExtraMap must have the same length as CosMap ({CosMap.Length}), got {ExtraMap.Length}");
        return g;
    }
}

/// <summary>Layout options for <see cref="ExplanationFigure"/>.</summary>
public sealed class ExplanationFigureOptions
{
    /// <summary>Upscale factor of the faces (and size of the maps, which match the face height). Default 3.</summary>
    public int FaceScale { get; set; } = 3;

    /// <summary>Text size in pixels (em). Default 16.</summary>
    public float FontSize { get; set; } = 16;

    /// <summary>Font choice. Default <see cref="FigureFont.Auto"/>.</summary>
    public FigureFont Font { get; set; } = FigureFont.Auto;

    /// <summary>Print each cell's value in the maps. Default true.</summary>
    public bool PrintValues { get; set; } = true;

    /// <summary>Draw the patch grid on the faces. Default true.</summary>
    public bool DrawGrid { get; set; } = true;

    /// <summary>Maximum opacity of the contribution overlay in <see cref="ExplanationFigure.RenderOverlayPng"/>. Default 0.7.</summary>
    public float OverlayOpacity { get; set; } = 0.7f;

    internal void Validate()
    {
        if (FaceScale < 1 || FaceScale > 16) throw new ArgumentOutOfRangeException(nameof(FaceScale), FaceScale, "must be in [1, 16]");
        if (!(FontSize >= 6 && FontSize <= 96)) throw new ArgumentOutOfRangeException(nameof(FontSize), FontSize, "must be in [6, 96]");
        if (!(OverlayOpacity >= 0 && OverlayOpacity <= 1)) throw new ArgumentOutOfRangeException(nameof(OverlayOpacity), OverlayOpacity, "must be in [0, 1]");
    }
}

/// <summary>
/// The xCos explanation figure (Lin et al., Fig. 1): both faces with the patch grid, the patch cosine map
/// (red where patches agree, blue where they disagree, white at 0) and the attention map, each with its value
/// printed per cell and a colour bar, under a title with the xCos score, plain cosine, threshold and verdict.
/// </summary>
public static class ExplanationFigure
{
    private const float Margin = 20, Gap = 30, BarWidth = 16, BarLabels = 52;

    /// <summary>Renders faces, cosine map, attention map (and the extra map when given) as PNG bytes.</summary>
    public static byte[] RenderPng(ExplanationInput input, ExplanationFigureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = options ?? new ExplanationFigureOptions();
        o.Validate();
        int g = input.Grid();
        using var f1 = RgbPng.ToBitmap(input.Face1Rgb, input.Face1Width, input.Face1Height, "face 1");
        using var f2 = RgbPng.ToBitmap(input.Face2Rgb, input.Face2Width, input.Face2Height, "face 2");
        using var text = FigureText.Create(o.Font);

        float fs = o.FontSize;
        float w1 = input.Face1Width * o.FaceScale, h1 = input.Face1Height * o.FaceScale;
        float w2 = input.Face2Width * o.FaceScale, h2 = input.Face2Height * o.FaceScale;
        float panel = Math.Max(h1, h2);
        int maps = input.ExtraMap != null ? 3 : 2;
        float width = Margin + w1 + Gap + w2 + maps * (Gap + panel + 8 + BarWidth + BarLabels) + Margin - 10;
        float headerH = TitleHeight(input, fs);
        float captionH = fs * 1.6f;
        float height = Margin + headerH + captionH + panel + Margin;
        var (bmp, c) = Panels.NewCanvas((int)Math.Ceiling(width), (int)Math.Ceiling(height));
        using (bmp)
        using (c)
        {
            float y0 = DrawTitle(c, text, input, width, fs);
            float top = y0 + captionH;
            float x = Margin;
            DrawFace(c, text, f1, new SKRect(x, top, x + w1, top + h1), g, input.Face1Label ?? "Face 1", fs, o.DrawGrid);
            x += w1 + Gap;
            DrawFace(c, text, f2, new SKRect(x, top, x + w2, top + h2), g, input.Face2Label ?? "Face 2", fs, o.DrawGrid);
            x += w2 + Gap;
            // a patch cosine lies in [-1, 1]; an anchored head's cell shares may not, and then get their own symmetric scale
            bool cosines = input.CosMap.All(v => v is >= -1 and <= 1);
            var (mmin, mmax) = cosines ? (-1f, 1f) : Panels.Range(input.CosMap, symmetric: true);
            x = DrawMap(c, text, new SKRect(x, top, x + panel, top + panel), input.CosMap, g, ColorMap.Diverging, mmin, mmax,
                input.CosMapTitle ?? "Patch cosine", fs, o.PrintValues);
            var (amin, amax) = Panels.Range(input.Attention, symmetric: false);
            x = DrawMap(c, text, new SKRect(x, top, x + panel, top + panel), input.Attention, g, ColorMap.Sequential,
                Math.Min(0, amin), amax, "Attention", fs, o.PrintValues);
            if (input.ExtraMap != null)
            {
                bool signed = input.ExtraMap.Any(v => v < 0);
                var (emin, emax) = Panels.Range(input.ExtraMap, symmetric: signed);
                DrawMap(c, text, new SKRect(x, top, x + panel, top + panel), input.ExtraMap, g,
                    signed ? ColorMap.Diverging : ColorMap.Sequential, signed ? emin : Math.Min(0, emin), emax,
                    input.ExtraMapTitle ?? "Contribution", fs, o.PrintValues);
            }
            return Panels.Finish(bmp, c);
        }
    }

    /// <summary>
    /// Renders each face with its patch contributions (cosine times attention) blended over it: red where a
    /// patch pushes towards "same", blue towards "different", opacity growing with the contribution's size.
    /// </summary>
    public static byte[] RenderOverlayPng(ExplanationInput input, ExplanationFigureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = options ?? new ExplanationFigureOptions();
        o.Validate();
        int g = input.Grid();
        using var f1 = RgbPng.ToBitmap(input.Face1Rgb, input.Face1Width, input.Face1Height, "face 1");
        using var f2 = RgbPng.ToBitmap(input.Face2Rgb, input.Face2Width, input.Face2Height, "face 2");
        using var text = FigureText.Create(o.Font);
        var contrib = new float[g * g];
        for (int i = 0; i < contrib.Length; i++) contrib[i] = input.CosMap[i] * input.Attention[i];
        var (cmin, cmax) = Panels.Range(contrib, symmetric: true);

        float fs = o.FontSize;
        float w1 = input.Face1Width * o.FaceScale, h1 = input.Face1Height * o.FaceScale;
        float w2 = input.Face2Width * o.FaceScale, h2 = input.Face2Height * o.FaceScale;
        float panel = Math.Max(h1, h2);
        float width = Math.Max(Margin + w1 + Gap + w2 + Gap + BarWidth + BarLabels + Margin, text.Measure(ScoreLine(input), fs * 1.05f) + 2 * Margin);
        float captionH = fs * 1.6f;
        float height = Margin + TitleHeight(input, fs) + captionH + panel + Margin;
        var (bmp, c) = Panels.NewCanvas((int)Math.Ceiling(width), (int)Math.Ceiling(height));
        using (bmp)
        using (c)
        {
            float top = DrawTitle(c, text, input, width, fs) + captionH;
            float x = Margin;
            foreach (var (face, w, h, label) in new[] { (f1, w1, h1, input.Face1Label ?? "Face 1"), (f2, w2, h2, input.Face2Label ?? "Face 2") })
            {
                var r = new SKRect(x, top, x + w, top + h);
                Panels.DrawImage(c, face, r);
                Panels.DrawOverlay(c, r, contrib, g, g, ColorMap.Diverging, cmin, cmax, o.OverlayOpacity, alphaByMagnitude: true, smooth: false);
                if (o.DrawGrid) Panels.DrawGrid(c, r, g, g, new SKColor(255, 255, 255, 120), 1f);
                text.Draw(c, label + "  (cos x attention)", r.MidX, top - fs * 0.55f, fs, Panels.Ink, TextAlign.Center);
                x += w + Gap;
            }
            Panels.DrawColorBar(c, text, new SKRect(x, top, x + BarWidth, top + panel), ColorMap.Diverging, cmin, cmax, fs * 0.8f);
            return Panels.Finish(bmp, c);
        }
    }

    /// <summary>Renders with <see cref="RenderPng"/> and writes the file atomically (temporary file, then rename).</summary>
    public static void Save(string path, ExplanationInput input, ExplanationFigureOptions? options = null)
        => RgbPng.WriteAtomic(path, RenderPng(input, options));

    /// <summary>Renders with <see cref="RenderOverlayPng"/> and writes the file atomically.</summary>
    public static void SaveOverlay(string path, ExplanationInput input, ExplanationFigureOptions? options = null)
        => RgbPng.WriteAtomic(path, RenderOverlayPng(input, options));

    /// <summary>
    /// Renders with <see cref="RenderPng"/> as an ML.NET <see cref="Microsoft.ML.Data.MLImage"/> (for an image column of
    /// an ML.NET pipeline or a notebook display). The caller disposes it.
    /// </summary>
    public static Microsoft.ML.Data.MLImage RenderMLImage(ExplanationInput input, ExplanationFigureOptions? options = null)
        => ToMLImage(RenderPng(input, options));

    /// <summary>Renders with <see cref="RenderOverlayPng"/> as an ML.NET <see cref="Microsoft.ML.Data.MLImage"/>. The caller disposes it.</summary>
    public static Microsoft.ML.Data.MLImage RenderOverlayMLImage(ExplanationInput input, ExplanationFigureOptions? options = null)
        => ToMLImage(RenderOverlayPng(input, options));

    private static Microsoft.ML.Data.MLImage ToMLImage(byte[] png)
    {
        using var stream = new MemoryStream(png, writable: false);
        return Microsoft.ML.Data.MLImage.CreateFromStream(stream);
    }

    // Without a threshold (NaN) and an explicit verdict there is nothing to decide: show the scores only.
    private static bool HasVerdict(ExplanationInput input) => input.Same is not null || !double.IsNaN(input.Threshold);

    internal static string ScoreLine(ExplanationInput input)
        => HasVerdict(input)
            ? string.Create(CultureInfo.InvariantCulture,
                $"xCos {input.Score:0.000}   |   cosine {input.Cosine:0.000}   |   threshold {input.Threshold:0.000}   |   ")
            : string.Create(CultureInfo.InvariantCulture, $"xCos {input.Score:0.000}   |   cosine {input.Cosine:0.000}");

    private static string VerdictText(ExplanationInput input)
        => !HasVerdict(input) ? "" : input.Verdict ? "SAME PERSON" : "DIFFERENT PEOPLE";

    private static float TitleHeight(ExplanationInput input, float fs)
        => (input.Title != null ? fs * 1.8f : 0) + fs * 1.6f;

    /// <summary>Title and score line; returns the y where the panels' captions start.</summary>
    private static float DrawTitle(SKCanvas c, FigureText text, ExplanationInput input, float width, float fs)
    {
        float y = Margin;
        if (input.Title != null)
        {
            y += fs * 1.3f;
            text.Draw(c, input.Title, width / 2, y, fs * 1.3f, Panels.Ink, TextAlign.Center);
            y += fs * 0.5f;
        }
        y += fs * 1.2f;
        string line = ScoreLine(input), verdict = VerdictText(input);
        float sz = fs * 1.05f;
        float total = text.Measure(line, sz) + text.Measure(verdict, sz);
        float x = width / 2 - total / 2;
        text.Draw(c, line, x, y, sz, Panels.Ink);
        var vc = input.Verdict ? new SKColor(0, 130, 60) : new SKColor(190, 30, 40);
        text.Draw(c, verdict, x + text.Measure(line, sz), y, sz, vc);
        // Faux bold for the verdict: a second pass half a pixel to the right.
        text.Draw(c, verdict, x + text.Measure(line, sz) + 0.6f, y, sz, vc);
        return y + fs * 0.4f;
    }

    private static void DrawFace(SKCanvas c, FigureText text, SKBitmap face, SKRect r, int g, string label, float fs, bool grid)
    {
        Panels.DrawImage(c, face, r);
        if (grid) Panels.DrawGrid(c, r, g, g, new SKColor(255, 255, 255, 150), 1.2f);
        text.Draw(c, label, r.MidX, r.Top - fs * 0.55f, fs, Panels.Ink, TextAlign.Center);
    }

    /// <summary>Heatmap plus colour bar; returns the x after it.</summary>
    private static float DrawMap(SKCanvas c, FigureText text, SKRect r, float[] values, int g, ColorMap map, float min, float max,
        string caption, float fs, bool printValues)
    {
        Panels.DrawHeatmap(c, text, r, values, g, g, map, min, max, printValues, null, fs * 0.85f);
        text.Draw(c, caption, r.MidX, r.Top - fs * 0.55f, fs, Panels.Ink, TextAlign.Center);
        var bar = new SKRect(r.Right + 8, r.Top, r.Right + 8 + BarWidth, r.Bottom);
        Panels.DrawColorBar(c, text, bar, map, min, max, fs * 0.8f);
        return bar.Right + BarLabels + Gap;
    }
}
