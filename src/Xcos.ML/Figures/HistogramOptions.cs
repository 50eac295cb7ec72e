using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>Axes plus the bins and the two series' labels of a <see cref="Histogram"/>.</summary>
public sealed class HistogramOptions : PlotOptions
{
    /// <summary>Number of bins over the common range. Default 40.</summary>
    public int Bins { get; set; } = 40;

    /// <summary>Legend name of the first distribution. Default "same".</summary>
    public string Label1 { get; set; } = "same";

    /// <summary>Legend name of the second distribution. Default "different".</summary>
    public string Label2 { get; set; } = "different";

    /// <summary>Vertical line position (a decision threshold); none when null.</summary>
    public double? Threshold { get; set; }

    /// <summary>Legend name of the threshold line. Default "threshold".</summary>
    public string ThresholdLabel { get; set; } = "threshold";

    /// <summary>Show densities (each distribution integrates to 1) instead of counts. Default true.</summary>
    public bool Density { get; set; } = true;
}
