using System.Globalization;
using System.Text.Json.Serialization;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Metrics;

namespace Xcos.ML.Explain;

/// <summary>What <see cref="OcclusionRobustness"/> tries: occluded fractions, which face, fill, blob sizes, protocol and seed.</summary>
public sealed class OcclusionOptions
{
    /// <summary>Occluded fractions of the face. Default 0, 5, 15, 25, 35 %.</summary>
    public double[] Levels { get; set; } = [0, 0.05, 0.15, 0.25, 0.35];

    /// <summary>Which face of each pair is occluded, 1 or 2. Default 2.</summary>
    public int Face { get; set; } = 2;

    /// <summary>Paint of occluded pixels. Default <see cref="OcclusionFill.Black"/>.</summary>
    public OcclusionFill Fill { get; set; } = OcclusionFill.Black;

    /// <summary>Base seed; pair i uses mask seed <c>Seed + i</c> at every level (so its masks are nested). Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Size range of the random elliptic blobs that cover the face.</summary>
    public OcclusionBlobOptions Blobs { get; set; } = new();

    /// <summary>Verification protocol (10 folds by default).</summary>
    public VerificationOptions Verification { get; set; } = new();

    /// <summary>Pairs handed to the scorer per call (bounds memory on large sets). Default 256.</summary>
    public int ChunkSize { get; set; } = 256;

    internal void Validate()
    {
        if (Levels is null || Levels.Length == 0) throw new ArgumentException("at least one occlusion level is needed");
        foreach (var l in Levels)
            if (!(l >= 0 && l <= 1)) throw new ArgumentOutOfRangeException(nameof(Levels), l, "each level must be in [0, 1]");
        if (Face is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(Face), Face, "must be 1 or 2");
        if (ChunkSize < 1) throw new ArgumentOutOfRangeException(nameof(ChunkSize), ChunkSize, "must be positive");
        Blobs.Validate();
    }
}

/// <summary>Accuracy of one score at every occlusion level.</summary>
/// <param name="ScoreName">The score ("xcos", "cosine", ...).</param>
/// <param name="AccuracyMean">Mean k-fold accuracy per level.</param>
/// <param name="AccuracyStd">Population std of the fold accuracies per level.</param>
public sealed record OcclusionSeries(
    [property: JsonPropertyName("score")] string ScoreName,
    [property: JsonPropertyName("accuracy_mean")] double[] AccuracyMean,
    [property: JsonPropertyName("accuracy_std")] double[] AccuracyStd);

/// <summary>Verification accuracy of each score at each occluded fraction (<see cref="OcclusionRobustness.Evaluate"/>).</summary>
/// <param name="Levels">Occluded fractions.</param>
/// <param name="Series">One series per score.</param>
/// <param name="Pairs">Pairs evaluated.</param>
/// <param name="Face">Occluded face.</param>
/// <param name="Fill">Paint.</param>
public sealed record OcclusionResult(
    [property: JsonPropertyName("levels")] double[] Levels,
    [property: JsonPropertyName("series")] IReadOnlyList<OcclusionSeries> Series,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonPropertyName("face")] int Face,
    [property: JsonPropertyName("fill")] OcclusionFill Fill)
{
    /// <summary>Accuracy versus occluded percentage, one line per score, as PNG bytes.</summary>
    public byte[] RenderPlotPng(LinePlotOptions? options = null)
    {
        var o = options ?? new LinePlotOptions
        {
            Title = string.Create(CultureInfo.InvariantCulture, $"Accuracy under occlusion of face {Face} ({Pairs} pairs)"),
            XLabel = "occluded area (%)", YLabel = "10-fold accuracy", LegendBottomRight = false,
        };
        var x = Levels.Select(l => l * 100).ToArray();
        return LinePlot.RenderPng(Series.Select(s => new PlotSeries(s.ScoreName, x, s.AccuracyMean)).ToArray(), o);
    }

    /// <summary>Writes the plot of <see cref="RenderPlotPng"/> to <paramref name="path"/> through a temporary file, so a failure leaves no partial PNG.</summary>
    public void SavePlot(string path, LinePlotOptions? options = null) => RgbPng.WriteAtomic(path, RenderPlotPng(options));
}

/// <summary>
/// Occlusion robustness as the xCos paper measures it: one face of every pair is covered by random blobs over a
/// growing fraction of its area, and the k-fold verification accuracy of each score (xCos and plain cosine) is measured
/// at each level.
/// </summary>
public static class OcclusionRobustness
{
    /// <summary>Occludes one face of every pair (<see cref="OcclusionOptions.Face"/>) at each level and re-measures each score's verification accuracy with the same protocol.</summary>
    /// <param name="scorer">Scores pairs; every score it names gets a series.</param>
    /// <param name="faces1">Face 1 of every pair.</param>
    /// <param name="faces2">Face 2 of every pair.</param>
    /// <param name="same">Labels.</param>
    /// <param name="options">Options; defaults when null.</param>
    public static OcclusionResult Evaluate(IFacePairScoring scorer, IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2,
        IReadOnlyList<bool> same, OcclusionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(faces1);
        ArgumentNullException.ThrowIfNull(faces2);
        ArgumentNullException.ThrowIfNull(same);
        var o = options ?? new OcclusionOptions();
        o.Validate();
        int n = same.Count;
        if (faces1.Count != n || faces2.Count != n)
            throw new ArgumentException($"{faces1.Count} faces 1, {faces2.Count} faces 2 and {n} labels: the counts must match");
        var names = scorer.ScoreNames;
        var mean = names.Select(_ => new double[o.Levels.Length]).ToArray();
        var std = names.Select(_ => new double[o.Levels.Length]).ToArray();
        var labels = same.ToArray();
        for (int l = 0; l < o.Levels.Length; l++)
        {
            var scores = names.Select(_ => new double[n]).ToArray();
            for (int start = 0; start < n; start += o.ChunkSize)
            {
                int count = Math.Min(o.ChunkSize, n - start);
                var a = new RgbImage[count];
                var b = new RgbImage[count];
                for (int j = 0; j < count; j++)
                {
                    int i = start + j;
                    var target = o.Face == 1 ? faces1[i] : faces2[i];
                    var mask = OcclusionMasks.Blobs(target.Width, target.Height, o.Levels[l], o.Seed + i, o.Blobs);
                    var occluded = OcclusionMasks.Apply(target, mask, o.Fill, o.Seed + i);
                    a[j] = o.Face == 1 ? occluded : faces1[i];
                    b[j] = o.Face == 2 ? occluded : faces2[i];
                }
                var s = scorer.Score(a, b);
                if (s is null || s.Length != names.Count || s.Any(r => r is null || r.Length != count))
                    throw new InvalidOperationException($"the scorer returned {s?.Length ?? 0} score rows for {names.Count} names (each must hold {count} values)");
                for (int k = 0; k < names.Count; k++) Array.Copy(s[k], 0, scores[k], start, count);
            }
            for (int k = 0; k < names.Count; k++)
            {
                var kf = VerificationMetrics.KFold(scores[k], labels, o.Verification);
                mean[k][l] = kf.AccuracyMean;
                std[k][l] = kf.AccuracyStd;
            }
        }
        return new OcclusionResult((double[])o.Levels.Clone(),
            names.Select((name, k) => new OcclusionSeries(name, mean[k], std[k])).ToArray(), n, o.Face, o.Fill);
    }
}
