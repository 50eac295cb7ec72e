using System.Text.Json.Serialization;
using Xcos.ML.Images;

namespace Xcos.ML.Explain;

/// <summary>How <see cref="Faithfulness"/> draws its curves: patch grid, patches per step, fill of removed patches, random baseline orders.</summary>
public sealed class FaithfulnessOptions
{
    /// <summary>Name of the built-in random baseline order.</summary>
    public const string RandomMethod = "random";

    /// <summary>Patch grid side: the face is split into Grid x Grid cells (7: 16x16-pixel cells of a 112x112 face, the xCos grid). Default 7.</summary>
    public int Grid { get; set; } = 7;

    /// <summary>Cells perturbed per step (1: one score per cell, 50 points on the 7x7 grid). Default 1.</summary>
    public int PatchesPerStep { get; set; } = 1;

    /// <summary>Replacement of deleted patches. Default <see cref="PatchFill.MeanColor"/> (the face's mean colour).</summary>
    public PatchFill Fill { get; set; } = PatchFill.MeanColor;

    /// <summary>Box radius in pixels of <see cref="PatchFill.Blur"/>. Default 8 (half a cell).</summary>
    public int BlurRadius { get; set; } = 8;

    /// <summary>Random orders averaged into the "random" baseline (seeds <see cref="Seed"/>, Seed+1, ...); 0 leaves the baseline out. Default 3.</summary>
    public int RandomOrders { get; set; } = 3;

    /// <summary>First seed of the random orders. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Which face of the pair is perturbed, 1 or 2 (the other stays intact). Default 1.</summary>
    public int Face { get; set; } = 1;

    /// <summary>Run deletion curves. Default true.</summary>
    public bool Deletion { get; set; } = true;

    /// <summary>Run insertion curves. Default true.</summary>
    public bool Insertion { get; set; } = true;

    internal void Validate()
    {
        if (Grid < 1 || Grid > 64) throw new ArgumentOutOfRangeException(nameof(Grid), Grid, "must be in [1, 64]");
        if (PatchesPerStep < 1 || PatchesPerStep > Grid * Grid) throw new ArgumentOutOfRangeException(nameof(PatchesPerStep), PatchesPerStep, $"must be in [1, {Grid * Grid}]");
        if (RandomOrders < 0) throw new ArgumentOutOfRangeException(nameof(RandomOrders), RandomOrders, "must be non-negative");
        if (Face is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(Face), Face, "must be 1 or 2");
        if (!Deletion && !Insertion) throw new ArgumentException("at least one of Deletion and Insertion must be on");
        if (Fill == PatchFill.Blur && BlurRadius < 1) throw new ArgumentOutOfRangeException(nameof(BlurRadius), BlurRadius, "must be at least 1");
    }
}

/// <summary>An explanation to test: one value per grid cell of the perturbed face; higher = more of the score is attributed to that cell.</summary>
/// <param name="Method">Name in the results ("xcos", "gradcam", ...).</param>
/// <param name="Map">Grid*Grid values, row-major.</param>
public sealed record PatchExplanation(string Method, float[] Map);

/// <summary>All curves of one pair.</summary>
/// <param name="Curves">One curve per method, kind and score name.</param>
public sealed record FaithfulnessPairResult([property: JsonPropertyName("curves")] IReadOnlyList<FaithfulnessCurve> Curves)
{
    /// <summary>The curve of a method, kind and score, or null.</summary>
    public FaithfulnessCurve? Find(string method, FaithfulnessKind kind, string scoreName)
        => Curves.FirstOrDefault(c => c.Method == method && c.Kind == kind && c.ScoreName == scoreName);
}

/// <summary>Mean AUC over pairs of one method, kind and score.</summary>
/// <param name="Method">Explanation method.</param>
/// <param name="Kind">Deletion or insertion.</param>
/// <param name="ScoreName">Recorded score.</param>
/// <param name="Auc">Mean normalised AUC over pairs.</param>
/// <param name="AucStd">Population standard deviation of the per-pair AUCs.</param>
/// <param name="Pairs">Pairs averaged.</param>
/// <param name="Fractions">Fractions of the mean curve.</param>
/// <param name="MeanScores">Mean curve over pairs.</param>
public sealed record FaithfulnessAuc(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("kind")] FaithfulnessKind Kind,
    [property: JsonPropertyName("score")] string ScoreName,
    [property: JsonPropertyName("auc")] double Auc,
    [property: JsonPropertyName("aucStd")] double AucStd,
    [property: JsonPropertyName("pairs")] int Pairs,
    [property: JsonIgnore] double[] Fractions,
    [property: JsonIgnore] double[] MeanScores);

/// <summary>Faithfulness over a set of pairs: mean AUC per method, kind and score.</summary>
public sealed class FaithfulnessSummary
{
    private FaithfulnessSummary(int pairs, IReadOnlyList<FaithfulnessAuc> rows) { Pairs = pairs; Rows = rows; }

    /// <summary>Pairs whose curves went into the summary.</summary>
    public int Pairs { get; }

    /// <summary>One row per method, kind and score, in first-seen order.</summary>
    public IReadOnlyList<FaithfulnessAuc> Rows { get; }

    /// <summary>Methods in first-seen order.</summary>
    public IReadOnlyList<string> Methods => Rows.Select(r => r.Method).Distinct().ToArray();

    /// <summary>The mean AUC of a method, kind and score; NaN when absent.</summary>
    public double Auc(string method, FaithfulnessKind kind, string scoreName)
        => Rows.FirstOrDefault(r => r.Method == method && r.Kind == kind && r.ScoreName == scoreName)?.Auc ?? double.NaN;

    /// <summary>Averages the pairs' curves (all pairs must have run the same methods and options).</summary>
    public static FaithfulnessSummary From(IReadOnlyList<FaithfulnessPairResult> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0) throw new ArgumentException("no pair results to summarise");
        var rows = new List<FaithfulnessAuc>();
        foreach (var first in pairs[0].Curves)
        {
            var curves = pairs.Select((p, i) => p.Find(first.Method, first.Kind, first.ScoreName)
                ?? throw new ArgumentException($"pair {i} has no {first.Kind} curve of '{first.Method}' on '{first.ScoreName}'")).ToArray();
            var aucs = curves.Select(c => c.Auc).ToArray();
            double mean = aucs.Average();
            double std = Math.Sqrt(aucs.Select(a => (a - mean) * (a - mean)).Average());
            rows.Add(new FaithfulnessAuc(first.Method, first.Kind, first.ScoreName, mean, std, pairs.Count,
                first.Fractions, FaithfulnessCurves.Mean(curves.Select(c => c.Scores).ToArray())));
        }
        return new FaithfulnessSummary(pairs.Count, rows);
    }
}

/// <summary>
/// Deletion and insertion curves (Petsiuk et al., RISE) of patch explanations of a verification score:
/// the cells of one face are replaced by a neutral fill (deletion) or restored from it (insertion) in order of
/// decreasing explained contribution, and the pair is re-scored after every step. A faithful explanation makes the
/// deletion curve fall faster (lower AUC) and the insertion curve rise faster (higher AUC) than a random order.
/// </summary>
public static class Faithfulness
{
    /// <summary>Runs every explanation (plus the random baseline) on one pair.</summary>
    /// <param name="scorer">Scores the perturbed pairs; every score it returns gets its own curve.</param>
    /// <param name="face1">Face 1 (aligned).</param>
    /// <param name="face2">Face 2 (aligned).</param>
    /// <param name="explanations">Maps over the cells of the perturbed face (<see cref="FaithfulnessOptions.Face"/>).</param>
    /// <param name="options">Options; defaults when null.</param>
    public static FaithfulnessPairResult Evaluate(IFacePairScoring scorer, RgbImage face1, RgbImage face2,
        IReadOnlyList<PatchExplanation> explanations, FaithfulnessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(face1);
        ArgumentNullException.ThrowIfNull(face2);
        ArgumentNullException.ThrowIfNull(explanations);
        var o = options ?? new FaithfulnessOptions();
        o.Validate();
        int cells = o.Grid * o.Grid;
        var target = o.Face == 1 ? face1 : face2;
        var other = o.Face == 1 ? face2 : face1;
        if (target.Width < o.Grid || target.Height < o.Grid)
            throw new ArgumentException($"face {o.Face} is {target.Width}x{target.Height}, too small for a {o.Grid}x{o.Grid} grid");

        // (method, orders): the random baseline holds several orders whose curves are averaged.
        var methods = new List<(string Method, int[][] Orders)>();
        foreach (var e in explanations)
        {
            ArgumentNullException.ThrowIfNull(e);
            if (e.Map is null || e.Map.Length != cells)
                throw new ArgumentException($"explanation '{e.Method}' holds {e.Map?.Length ?? 0} values; the {o.Grid}x{o.Grid} grid needs {cells}");
            if (e.Method == FaithfulnessOptions.RandomMethod || methods.Any(m => m.Method == e.Method))
                throw new ArgumentException($"explanation name '{e.Method}' is duplicated or reserved");
            methods.Add((e.Method, [FaithfulnessCurves.Descending(e.Map)]));
        }
        if (o.RandomOrders > 0)
            methods.Add((FaithfulnessOptions.RandomMethod,
                Enumerable.Range(0, o.RandomOrders).Select(k => FaithfulnessCurves.RandomOrder(cells, o.Seed + k)).ToArray()));
        if (methods.Count == 0) throw new ArgumentException("no explanations and no random baseline: nothing to measure");

        var filled = FaithfulnessPatches.Filled(target, o.Fill, o.BlurRadius);
        var kinds = new List<FaithfulnessKind>();
        if (o.Deletion) kinds.Add(FaithfulnessKind.Deletion);
        if (o.Insertion) kinds.Add(FaithfulnessKind.Insertion);
        int steps = FaithfulnessCurves.Steps(cells, o.PatchesPerStep);
        var fractions = FaithfulnessCurves.Fractions(cells, o.PatchesPerStep);

        // Every perturbed image of every method, order and kind goes to the scorer in one call so that it can batch.
        var images = new List<RgbImage>();
        foreach (var (_, orders) in methods)
            foreach (var order in orders)
                foreach (var kind in kinds)
                    for (int s = 0; s <= steps; s++)
                    {
                        var useFilled = new bool[cells];
                        int k = Math.Min(s * o.PatchesPerStep, cells);
                        if (kind == FaithfulnessKind.Insertion) Array.Fill(useFilled, true);
                        for (int i = 0; i < k; i++) useFilled[order[i]] = kind == FaithfulnessKind.Deletion;
                        images.Add(FaithfulnessPatches.Composite(target, filled, useFilled, o.Grid));
                    }
        var others = Enumerable.Repeat(other, images.Count).ToArray();
        var scores = o.Face == 1 ? scorer.Score(images, others) : scorer.Score(others, images);
        var names = scorer.ScoreNames;
        if (scores is null || scores.Length != names.Count || scores.Any(s => s is null || s.Length != images.Count))
            throw new InvalidOperationException($"the scorer returned {scores?.Length ?? 0} score rows for {names.Count} names (each must hold {images.Count} values)");

        var curves = new List<FaithfulnessCurve>();
        int at = 0;
        foreach (var (method, orders) in methods)
        {
            // per kind, per score name: the curves of each order, averaged
            var perKind = kinds.ToDictionary(k => k, _ => names.Select(_ => new List<double[]>()).ToArray());
            foreach (var _ in orders)
                foreach (var kind in kinds)
                {
                    for (int n = 0; n < names.Count; n++) perKind[kind][n].Add(scores[n].AsSpan(at, steps + 1).ToArray());
                    at += steps + 1;
                }
            foreach (var kind in kinds)
                for (int n = 0; n < names.Count; n++)
                    curves.Add(new FaithfulnessCurve(method, kind, names[n], fractions, FaithfulnessCurves.Mean(perKind[kind][n])));
        }
        return new FaithfulnessPairResult(curves);
    }
}
