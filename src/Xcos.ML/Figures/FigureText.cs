using System.Globalization;
using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>Which font the figures draw text with.</summary>
public enum FigureFont
{
    /// <summary>A system TrueType font when one is found (DejaVu Sans, Liberation Sans, ... or Skia's default typeface when it has glyphs), else <see cref="Builtin"/>.</summary>
    Auto,

    /// <summary>The stroke font built into this library: always available, needs no font files or fontconfig.</summary>
    Builtin,
}

/// <summary>Horizontal anchoring of a text run.</summary>
internal enum TextAlign { Left, Center, Right }

/// <summary>
/// Draws text for the figures. SkiaSharp's NoDependencies native build has no fontconfig, so a typeface is
/// loaded from a known TTF path (or Skia's default when it actually has glyphs); without one, the built-in
/// stroke font draws the text as vector strokes, which works everywhere.
/// </summary>
internal abstract class FigureText : IDisposable
{
    private static readonly string[] FontPaths =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/lato/Lato-Regular.ttf",
        "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/Library/Fonts/Arial.ttf",
        "C:\\Windows\\Fonts\\arial.ttf",
    ];

    private static readonly Lazy<SKTypeface?> SystemTypeface = new(FindTypeface);

    /// <summary>Creates the text renderer for a font choice.</summary>
    public static FigureText Create(FigureFont font)
    {
        if (font == FigureFont.Auto && SystemTypeface.Value is { } tf) return new TypefaceText(tf);
        return new StrokeText();
    }

    /// <summary>True when <see cref="FigureFont.Auto"/> resolves to a system font on this machine.</summary>
    public static bool HasSystemFont => SystemTypeface.Value != null;

    private static SKTypeface? FindTypeface()
    {
        foreach (var p in FontPaths)
        {
            if (!File.Exists(p)) continue;
            try
            {
                var tf = SKTypeface.FromFile(p);
                if (tf != null && HasGlyphs(tf)) return tf;
                tf?.Dispose();
            }
            catch (Exception) { /* unreadable font file: try the next one */ }
        }
        var def = SKTypeface.Default;
        return def != null && HasGlyphs(def) ? def : null;
    }

    private static bool HasGlyphs(SKTypeface tf)
    {
        if (tf.GlyphCount <= 0) return false;
        var glyphs = tf.GetGlyphs("Ag0.");
        return glyphs.Length == 4 && glyphs.All(g => g != 0);
    }

    /// <summary>Width of <paramref name="text"/> at em size <paramref name="size"/> pixels.</summary>
    public abstract float Measure(string text, float size);

    /// <summary>Draws with the baseline at <paramref name="y"/>.</summary>
    public abstract void Draw(SKCanvas canvas, string text, float x, float y, float size, SKColor color, TextAlign align = TextAlign.Left);

    /// <summary>Draws text vertically centred on <paramref name="cy"/> (cap height centred).</summary>
    public void DrawCentered(SKCanvas canvas, string text, float cx, float cy, float size, SKColor color)
        => Draw(canvas, text, cx, cy + 0.36f * size, size, color, TextAlign.Center);

    /// <summary>Draws text rotated 90 degrees counter-clockwise, centred on (cx, cy) (y-axis labels).</summary>
    public void DrawVertical(SKCanvas canvas, string text, float cx, float cy, float size, SKColor color)
    {
        canvas.Save();
        canvas.Translate(cx, cy);
        canvas.RotateDegrees(-90);
        Draw(canvas, text, 0, 0.36f * size, size, color, TextAlign.Center);
        canvas.Restore();
    }

    public virtual void Dispose() { }

    protected static float AlignOffset(TextAlign align, float width)
        => align switch { TextAlign.Center => -width / 2, TextAlign.Right => -width, _ => 0 };

    private sealed class TypefaceText(SKTypeface typeface) : FigureText
    {
        private readonly SKPaint _paint = new() { Typeface = typeface, IsAntialias = true, SubpixelText = true };

        public override float Measure(string text, float size)
        {
            _paint.TextSize = size;
            return _paint.MeasureText(text);
        }

        public override void Draw(SKCanvas canvas, string text, float x, float y, float size, SKColor color, TextAlign align = TextAlign.Left)
        {
            _paint.TextSize = size;
            _paint.Color = color;
            canvas.DrawText(text, x + AlignOffset(align, _paint.MeasureText(text)), y, _paint);
        }

        public override void Dispose()
        {
            _paint.Dispose();
            base.Dispose();
        }
    }

    /// <summary>
    /// Vector stroke font. Glyphs are polylines on a grid with the baseline at 0 and cap height 10 (y up);
    /// lowercase letters are drawn as small capitals. Characters without a glyph draw as an open box.
    /// </summary>
    internal sealed class StrokeText : FigureText
    {
        private const float CapToEm = 0.72f;    // cap height as a fraction of the em size
        private const float Spacing = 2.0f;      // grid units between glyphs
        private const float SmallCaps = 0.74f;   // lowercase height relative to capitals

        private static readonly Dictionary<char, (float Width, SKPoint[][] Strokes)> Glyphs = BuildGlyphs();

        public override float Measure(string text, float size)
        {
            float u = size * CapToEm / 10f, w = 0;
            foreach (var ch in text) w += Advance(ch) * u;
            return Math.Max(0, w - Spacing * u);
        }

        private static float Advance(char ch)
        {
            if (ch == ' ') return 4f + Spacing;
            var (g, small) = Lookup(ch);
            return g.Width * (small ? 0.85f : 1f) + Spacing;
        }

        private static ((float Width, SKPoint[][] Strokes) Glyph, bool Small) Lookup(char ch)
        {
            if (Glyphs.TryGetValue(ch, out var g)) return (g, false);
            if (char.IsLower(ch) && Glyphs.TryGetValue(char.ToUpperInvariant(ch), out g)) return (g, true);
            return (Glyphs['\0'], false);
        }

        public override void Draw(SKCanvas canvas, string text, float x, float y, float size, SKColor color, TextAlign align = TextAlign.Left)
        {
            float u = size * CapToEm / 10f;
            float pen = x + AlignOffset(align, Measure(text, size));
            using var paint = new SKPaint
            {
                Color = color, IsAntialias = true, Style = SKPaintStyle.Stroke,
                StrokeWidth = Math.Max(1f, size * 0.085f), StrokeCap = SKStrokeCap.Round, StrokeJoin = SKStrokeJoin.Round,
            };
            using var path = new SKPath();
            foreach (var ch in text)
            {
                if (ch != ' ')
                {
                    var (g, small) = Lookup(ch);
                    float sx = u * (small ? 0.85f : 1f), sy = u * (small ? SmallCaps : 1f);
                    foreach (var stroke in g.Strokes)
                    {
                        for (int i = 0; i < stroke.Length; i++)
                        {
                            float px = pen + stroke[i].X * sx, py = y - stroke[i].Y * sy;
                            if (i == 0) path.MoveTo(px, py); else path.LineTo(px, py);
                        }
                    }
                }
                pen += Advance(ch) * u;
            }
            canvas.DrawPath(path, paint);
        }

        private static Dictionary<char, (float, SKPoint[][])> BuildGlyphs()
        {
            const string O = "1.5,0 4.5,0 6,2 6,8 4.5,10 1.5,10 0,8 0,2 1.5,0";
            const string P = "0,0 0,10 4.5,10 6,8.5 6,6.5 4.5,5 0,5";
            var defs = new (char C, float W, string S)[]
            {
                ('\0', 5, "0,0 5,0 5,10 0,10 0,0"),
                ('A', 6, "0,0 3,10 6,0; 1.2,4 4.8,4"),
                ('B', 6, "0,5.2 4,5.2 5.5,6.5 5.5,8.7 4.2,10 0,10 0,0 4.5,0 6,1.3 6,3.9 4.5,5.2"),
                ('C', 6, "6,8.5 4.6,10 1.5,10 0,8 0,2 1.5,0 4.6,0 6,1.5"),
                ('D', 6, "0,0 0,10 3.5,10 6,7.5 6,2.5 3.5,0 0,0"),
                ('E', 5.5f, "5.5,10 0,10 0,0 5.5,0; 0,5.2 4.3,5.2"),
                ('F', 5.5f, "5.5,10 0,10 0,0; 0,5.2 4.3,5.2"),
                ('G', 6, "6,8.5 4.6,10 1.5,10 0,8 0,2 1.5,0 4.6,0 6,1.5 6,4.5 3.5,4.5"),
                ('H', 6, "0,0 0,10; 6,0 6,10; 0,5.2 6,5.2"),
                ('I', 4, "0.5,10 3.5,10; 2,10 2,0; 0.5,0 3.5,0"),
                ('J', 5.5f, "5.5,10 5.5,2 4,0 1.5,0 0,2"),
                ('K', 6, "0,0 0,10; 6,10 0,3.5; 2,5.6 6,0"),
                ('L', 5.5f, "0,10 0,0 5.5,0"),
                ('M', 7, "0,0 0,10 3.5,3.5 7,10 7,0"),
                ('N', 6, "0,0 0,10 6,0 6,10"),
                ('O', 6, O),
                ('P', 6, P),
                ('Q', 6, O + "; 3.5,2.5 6.5,-1"),
                ('R', 6, P + "; 3.3,5 6,0"),
                ('S', 6, "6,8.5 4.5,10 1.5,10 0,8.5 0,6.8 1.5,5.5 4.5,4.6 6,3.3 6,1.5 4.5,0 1.5,0 0,1.5"),
                ('T', 6, "0,10 6,10; 3,10 3,0"),
                ('U', 6, "0,10 0,2 1.5,0 4.5,0 6,2 6,10"),
                ('V', 6, "0,10 3,0 6,10"),
                ('W', 8, "0,10 2,0 4,7 6,0 8,10"),
                ('X', 6, "0,10 6,0; 0,0 6,10"),
                ('Y', 6, "0,10 3,5; 6,10 3,5 3,0"),
                ('Z', 6, "0,10 6,10 0,0 6,0"),
                ('0', 5, "1.2,0 3.8,0 5,2 5,8 3.8,10 1.2,10 0,8 0,2 1.2,0"),
                ('1', 5, "1,8 3,10 3,0; 1,0 5,0"),
                ('2', 5, "0,8.5 1.3,10 3.8,10 5,8.5 5,6.5 0,0 5,0"),
                ('3', 5, "0,9 1.3,10 3.8,10 5,8.7 5,6.6 3.8,5.4 2,5.4; 3.8,5.4 5,4.2 5,1.3 3.8,0 1.2,0 0,1.2"),
                ('4', 5.5f, "4,0 4,10 0,3 5.5,3"),
                ('5', 5, "5,10 0.5,10 0,5.5 3.5,6.2 5,5 5,1.5 3.8,0 1.2,0 0,1.2"),
                ('6', 5, "4.8,9 3.6,10 1.4,10 0,8 0,2 1.3,0 3.7,0 5,1.5 5,4.3 3.7,5.8 1.3,5.8 0,4.3"),
                ('7', 5, "0,10 5,10 1.5,0"),
                ('8', 5, "2.5,5.5 1,6.5 0.6,8.3 1.5,10 3.5,10 4.4,8.3 4,6.5 2.5,5.5 0.8,4.5 0,3 0,1.5 1.3,0 3.7,0 5,1.5 5,3 4.2,4.5 2.5,5.5"),
                ('9', 5, "0.2,1 1.4,0 3.6,0 5,2 5,8 3.7,10 1.3,10 0,8.5 0,5.7 1.3,4.2 3.7,4.2 5,5.7"),
                ('.', 1, "0.5,0 0.5,0.4"),
                (',', 1.5f, "1,0.8 1,0 0,-2"),
                (':', 1, "0.5,0 0.5,0.4; 0.5,6 0.5,6.4"),
                (';', 1.5f, "1,0.8 1,0 0,-2; 1,6 1,6.4"),
                ('-', 4, "0,4.5 4,4.5"),
                ('+', 5, "0,4.5 5,4.5; 2.5,2 2.5,7"),
                ('=', 5, "0,3 5,3; 0,6 5,6"),
                ('(', 2.5f, "2.5,11 0.7,8 0.2,4.5 0.7,1 2.5,-2"),
                (')', 2.5f, "0,11 1.8,8 2.3,4.5 1.8,1 0,-2"),
                ('[', 2.5f, "2.5,11 0,11 0,-2 2.5,-2"),
                (']', 2.5f, "0,11 2.5,11 2.5,-2 0,-2"),
                ('/', 5, "0,-1 5,11"),
                ('\\', 5, "0,11 5,-1"),
                ('%', 7, "0,0 7,10; 1.3,10 0,8.8 0,7.2 1.3,6 2.6,7.2 2.6,8.8 1.3,10; 5.7,4 4.4,2.8 4.4,1.2 5.7,0 7,1.2 7,2.8 5.7,4"),
                ('_', 6, "0,-1.5 6,-1.5"),
                ('<', 5, "5,8 0,4.5 5,1"),
                ('>', 5, "0,8 5,4.5 0,1"),
                ('!', 1, "0.5,10 0.5,3; 0.5,0 0.5,0.4"),
                ('?', 5, "0,8.5 1.3,10 3.8,10 5,8.5 5,6.5 2.5,4.5 2.5,2.8; 2.5,0 2.5,0.4"),
                ('\'', 1, "0.5,10 0.5,7"),
                ('"', 3, "0.5,10 0.5,7; 2.5,10 2.5,7"),
                ('*', 5, "2.5,9 2.5,3; 0,7.5 5,4.5; 0,4.5 5,7.5"),
                ('#', 6, "1.5,0 2.5,10; 4,0 5,10; 0,3.5 6,3.5; 0,6.5 6,6.5"),
                ('|', 1, "0.5,-2 0.5,11"),
                ('~', 6, "0,4 1.5,5.5 4.5,3.5 6,5"),
                ('^', 5, "0,7 2.5,10 5,7"),
                ('&', 6, "6,0 1,6.5 0.5,8.5 1.5,10 3,10 4,8.5 3.5,6.8 0,3.5 0,1.5 1.5,0 3.5,0 6,3.5"),
                ('\u00d7', 5, "0.5,2 4.5,7; 0.5,7 4.5,2"),          // multiplication sign
                ('\u2212', 4, "0,4.5 4,4.5"),                          // minus sign
                ('\u00b7', 1, "0.5,4.5 0.5,4.9"),                      // middle dot
                ('\u2265', 5, "0,8 5,5.5 0,3; 0,1 5,1"),               // >=
                ('\u2264', 5, "5,8 0,5.5 5,3; 0,1 5,1"),               // <=
            };
            var d = new Dictionary<char, (float, SKPoint[][])>();
            foreach (var (c, w, s) in defs)
            {
                var strokes = s.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(st => st.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(pt =>
                    {
                        var xy = pt.Split(',');
                        return new SKPoint(float.Parse(xy[0], CultureInfo.InvariantCulture), float.Parse(xy[1], CultureInfo.InvariantCulture));
                    }).ToArray()).ToArray();
                d[c] = (w, strokes);
            }
            return d;
        }
    }
}
