using SkiaSharp;

namespace Xcos.ML.Figures;

/// <summary>One line of a <see cref="LinePlot"/>.</summary>
/// <param name="Name">Legend entry.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values, same length as <paramref name="X"/>.</param>
public sealed record PlotSeries(string Name, double[] X, double[] Y);
