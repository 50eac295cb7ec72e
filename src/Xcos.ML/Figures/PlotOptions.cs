using SkiaSharp;

namespace Xcos.ML.Figures;

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
