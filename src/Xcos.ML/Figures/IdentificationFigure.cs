using System.Globalization;
using SkiaSharp;
using Xcos.ML.Images;

namespace Xcos.ML.Figures;

/// <summary>One gallery match in an <see cref="IdentificationFigure"/>.</summary>
/// <param name="Identity">Who.</param>
/// <param name="Face">The aligned gallery face, or null when its photo cannot be read any more (drawn as a grey box).</param>
/// <param name="Cosine">The model's cosine.</param>
/// <param name="Xcos">The pair head's xCos.</param>
/// <param name="CosMap">Per-cell cosines (side x side).</param>
/// <param name="Attention">Per-cell attention (side x side).</param>
/// <param name="Contributions">Per-cell shares of the cosine (side x side), drawn as a fourth row when given.</param>
public sealed record IdentificationFigureMatch(string Identity, RgbImage? Face, double Cosine, double Xcos, float[] CosMap, float[] Attention, float[]? Contributions = null);

/// <summary>
/// The probe next to its top-k gallery faces: one column per match with the face, its patch-cosine map over the face
/// and its attention map, titled with the rank, identity, cosine and xCos.
/// </summary>
public static class IdentificationFigure
{
    private const int Cell = 168, Pad = 16, Title = 46;

    /// <summary>Renders the figure as PNG bytes.</summary>
    public static byte[] RenderPng(RgbImage probe, string probeLabel, IReadOnlyList<IdentificationFigureMatch> matches, int side, string caption)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(matches);
        foreach (var m in matches)
        {
            HeatmapFigure.CheckMap(m.CosMap, side, side);
            HeatmapFigure.CheckMap(m.Attention, side, side);
            if (m.Contributions is not null) HeatmapFigure.CheckMap(m.Contributions, side, side);
        }
        int cols = 1 + matches.Count;
        bool shares = matches.Any(m => m.Contributions is not null);
        int width = Pad + cols * (Cell + Pad), height = Title + (shares ? 4 : 3) * (Cell + Pad) + 30;
        var (bmp, c) = Panels.NewCanvas(width, height);
        using var _b = bmp;
        using var _c = c;
        using var text = FigureText.Create(FigureFont.Auto);
        text.Draw(c, caption, Pad, 22, 15, Panels.Ink);
        float top = Title;
        SKRect Box(int col, int row) => new(Pad + col * (Cell + Pad), top + row * (Cell + Pad), Pad + col * (Cell + Pad) + Cell, top + row * (Cell + Pad) + Cell);
        using (var pb = RgbPng.ToBitmap(probe.Pixels, probe.Width, probe.Height, "probe")) Panels.DrawImage(c, pb, Box(0, 0));
        text.Draw(c, "probe: " + Short(probeLabel), Box(0, 0).Left, Box(0, 0).Bottom + 13, 12, Panels.Ink);
        text.Draw(c, "patch cosine", Box(0, 1).Left, Box(0, 1).MidY, 14, Panels.Muted);
        text.Draw(c, "attention", Box(0, 2).Left, Box(0, 2).MidY, 14, Panels.Muted);
        if (shares) text.Draw(c, "share of cosine", Box(0, 3).Left, Box(0, 3).MidY, 14, Panels.Muted);
        // one symmetric scale for every match's shares, so columns compare
        float shareMax = shares ? matches.Where(m => m.Contributions is not null).SelectMany(m => m.Contributions!).Max(v => Math.Abs(v)) : 0;
        for (int i = 0; i < matches.Count; i++)
        {
            var m = matches[i];
            var face = Box(i + 1, 0);
            if (m.Face is { } f)
                using (var fb = RgbPng.ToBitmap(f.Pixels, f.Width, f.Height, m.Identity)) Panels.DrawImage(c, fb, face);
            else
            {
                using var grey = new SKPaint { Color = new SKColor(200, 200, 200) };
                c.DrawRect(face, grey);
                text.DrawCentered(c, "photo unavailable", face.MidX, face.MidY, 12, Panels.Ink);
            }
            text.Draw(c, $"#{i + 1} {Short(m.Identity)}", face.Left, face.Bottom + 13, 12, Panels.Ink);
            var cos = Box(i + 1, 1);
            if (m.Face is { } g)
                using (var gb = RgbPng.ToBitmap(g.Pixels, g.Width, g.Height, m.Identity)) Panels.DrawImage(c, gb, cos);
            Panels.DrawOverlay(c, cos, m.CosMap, side, side, ColorMap.Diverging, -1, 1, 0.6f, false, false);
            Panels.DrawGrid(c, cos, side, side, new SKColor(255, 255, 255, 90), 1f);
            text.Draw(c, string.Create(CultureInfo.InvariantCulture, $"cos {m.Cosine:F3}  xCos {m.Xcos:F3}"), cos.Left, cos.Bottom + 13, 12, Panels.Ink);
            var (lo, hi) = Panels.Range(m.Attention, symmetric: false);
            Panels.DrawHeatmap(c, text, Box(i + 1, 2), m.Attention, side, side, ColorMap.Sequential, lo, hi, printValues: false, null, 10);
            if (m.Contributions is not null && shareMax > 0)
                Panels.DrawHeatmap(c, text, Box(i + 1, 3), m.Contributions, side, side, ColorMap.Diverging, -shareMax, shareMax, printValues: false, null, 10);
        }
        return Panels.Finish(bmp, c);
    }

    /// <summary>Renders and writes the PNG atomically.</summary>
    public static void Save(string path, RgbImage probe, string probeLabel, IReadOnlyList<IdentificationFigureMatch> matches, int side, string caption) =>
        RgbPng.WriteAtomic(path, RenderPng(probe, probeLabel, matches, side, caption));

    private static string Short(string s) => s.Length <= 22 ? s : s[..20] + "..";
}
