using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>Colour scales for maps.</summary>
public enum ColorMap
{
    /// <summary>Blue (minimum) through white (midpoint) to red (maximum), like RdBu reversed: for signed values such as patch cosines.</summary>
    Diverging,

    /// <summary>Dark purple through teal to yellow (viridis-like): for non-negative values such as attention weights.</summary>
    Sequential,

    /// <summary>Dark blue, cyan, yellow, red (jet-like, perceptually smoother stops): the usual Grad-CAM look.</summary>
    Heat,
}

internal static class ColorMaps
{
    private static readonly (float T, SKColor C)[] DivergingStops =
    [
        (0f, new SKColor(5, 48, 97)), (0.15f, new SKColor(33, 102, 172)), (0.3f, new SKColor(103, 169, 207)),
        (0.42f, new SKColor(209, 229, 240)), (0.5f, new SKColor(255, 255, 255)), (0.58f, new SKColor(253, 219, 199)),
        (0.7f, new SKColor(239, 138, 98)), (0.85f, new SKColor(178, 24, 43)), (1f, new SKColor(103, 0, 31)),
    ];

    private static readonly (float T, SKColor C)[] SequentialStops =
    [
        (0f, new SKColor(68, 1, 84)), (0.13f, new SKColor(72, 36, 117)), (0.25f, new SKColor(65, 68, 135)),
        (0.38f, new SKColor(53, 95, 141)), (0.5f, new SKColor(42, 120, 142)), (0.63f, new SKColor(33, 145, 140)),
        (0.75f, new SKColor(53, 183, 121)), (0.88f, new SKColor(144, 215, 67)), (1f, new SKColor(253, 231, 37)),
    ];

    private static readonly (float T, SKColor C)[] HeatStops =
    [
        (0f, new SKColor(0, 0, 131)), (0.125f, new SKColor(0, 60, 170)), (0.375f, new SKColor(5, 255, 255)),
        (0.625f, new SKColor(255, 255, 0)), (0.875f, new SKColor(250, 0, 0)), (1f, new SKColor(128, 0, 0)),
    ];

    /// <summary>Colour of <paramref name="t"/> in [0, 1] (clamped; NaN maps to grey).</summary>
    public static SKColor At(ColorMap map, float t)
    {
        if (float.IsNaN(t)) return new SKColor(128, 128, 128);
        var stops = map switch
        {
            ColorMap.Diverging => DivergingStops,
            ColorMap.Sequential => SequentialStops,
            _ => HeatStops,
        };
        t = Math.Clamp(t, 0f, 1f);
        for (int i = 1; i < stops.Length; i++)
        {
            if (t <= stops[i].T)
            {
                var (t0, c0) = stops[i - 1];
                var (t1, c1) = stops[i];
                float f = (t - t0) / (t1 - t0);
                return new SKColor(
                    (byte)Math.Round(c0.Red + (c1.Red - c0.Red) * f),
                    (byte)Math.Round(c0.Green + (c1.Green - c0.Green) * f),
                    (byte)Math.Round(c0.Blue + (c1.Blue - c0.Blue) * f));
            }
        }
        return stops[^1].C;
    }

    /// <summary>Colour of <paramref name="v"/> on the scale [min, max].</summary>
    public static SKColor At(ColorMap map, float v, float min, float max)
        => At(map, max > min ? (v - min) / (max - min) : 0.5f);

    /// <summary>Black or white, whichever reads better on <paramref name="bg"/>.</summary>
    public static SKColor TextOn(SKColor bg)
        => 0.299 * bg.Red + 0.587 * bg.Green + 0.114 * bg.Blue > 140 ? new SKColor(20, 20, 20) : SKColors.White;
}
