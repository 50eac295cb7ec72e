using SkiaSharp;

namespace Xcos.ML.Figures;

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
