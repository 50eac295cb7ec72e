using System.Globalization;
using Xcos.ML.Figures;

namespace Xcos.ML.Explain;

/// <summary>Mean deletion or insertion curves of a <see cref="FaithfulnessSummary"/>, one line per method, as a line plot.</summary>
public static class FaithfulnessCurvePlot
{
    /// <summary>
    /// Renders the mean curve of every method for one kind and score; each legend entry carries the method's mean AUC.
    /// For deletion the steepest fall (lowest AUC) is the most faithful order.
    /// </summary>
    /// <param name="summary">Summarised curves.</param>
    /// <param name="kind">Deletion or insertion.</param>
    /// <param name="scoreName">Recorded score to plot (for example "cosine" or "xcos").</param>
    /// <param name="options">Plot options; a title and axis labels are filled in when null.</param>
    /// <exception cref="ArgumentException">The summary has no curve of that kind and score.</exception>
    public static byte[] RenderPng(FaithfulnessSummary summary, FaithfulnessKind kind, string scoreName, LinePlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(scoreName);
        var rows = summary.Rows.Where(r => r.Kind == kind && r.ScoreName == scoreName).ToArray();
        if (rows.Length == 0)
            throw new ArgumentException($"the summary has no {kind} curves of score '{scoreName}' (scores: {string.Join(", ", summary.Rows.Select(r => r.ScoreName).Distinct())})");
        var inv = CultureInfo.InvariantCulture;
        string verb = kind == FaithfulnessKind.Deletion ? "deleted" : "inserted";
        var o = options ?? new LinePlotOptions
        {
            Title = string.Create(inv, $"{kind} curves, {scoreName} ({summary.Pairs} pairs; {(kind == FaithfulnessKind.Deletion ? "lower AUC = more faithful" : "higher AUC = more faithful")})"),
            XLabel = $"fraction of cells {verb}", YLabel = $"mean {scoreName}", LegendBottomRight = kind == FaithfulnessKind.Insertion,
            XMin = 0, XMax = 1,
        };
        var series = rows.Select(r => new PlotSeries(string.Create(inv, $"{r.Method} (AUC {r.Auc:0.000})"), r.Fractions.Select(x => x).ToArray(), r.MeanScores)).ToArray();
        return LinePlot.RenderPng(series, o);
    }

    /// <summary>Renders with <see cref="RenderPng"/> and writes the file atomically.</summary>
    public static void Save(string path, FaithfulnessSummary summary, FaithfulnessKind kind, string scoreName, LinePlotOptions? options = null)
        => RgbPng.WriteAtomic(path, RenderPng(summary, kind, scoreName, options));
}
