using System.Text.Json.Serialization;

namespace Xcos.ML.Explain;

/// <summary>Which perturbation a faithfulness curve follows.</summary>
public enum FaithfulnessKind
{
    /// <summary>Start from the face, replace patches with the fill in explanation order; a faithful order drops the score fast (lower AUC is better).</summary>
    Deletion,
    /// <summary>Start from the fully filled face, restore patches in explanation order; a faithful order raises the score fast (higher AUC is better).</summary>
    Insertion,
}

/// <summary>One score curve of a deletion or insertion run.</summary>
/// <param name="Method">Explanation whose order was followed ("xcos", "gradcam", "random", ...).</param>
/// <param name="Kind">Deletion or insertion.</param>
/// <param name="ScoreName">Which score was recorded ("xcos", "cosine", ...).</param>
/// <param name="Fractions">Fraction of patches perturbed at each step, from 0 to 1.</param>
/// <param name="Scores">Score at each step.</param>
public sealed record FaithfulnessCurve(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("kind")] FaithfulnessKind Kind,
    [property: JsonPropertyName("score")] string ScoreName,
    [property: JsonPropertyName("fractions")] double[] Fractions,
    [property: JsonPropertyName("scores")] double[] Scores)
{
    /// <summary>Normalised area under the curve: <see cref="FaithfulnessCurves.Auc(IReadOnlyList{double}, IReadOnlyList{double})"/> of it (the mean score along the curve).</summary>
    [JsonPropertyName("auc")] public double Auc => FaithfulnessCurves.Auc(Fractions, Scores);
}

/// <summary>Curve arithmetic and patch orders shared by the faithfulness measurements.</summary>
internal static class FaithfulnessCurves
{
    /// <summary>
    /// Normalised area under a score curve: the trapezoidal integral over x divided by the x range, i.e. the
    /// mean score along the curve, in the score's own units. For x from 0 to 1 it is the plain area.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two points, unequal lengths, non-finite values or x not strictly increasing.</exception>
    public static double Auc(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count) throw new ArgumentException($"curve has {x.Count} x values and {y.Count} y values; they must match");
        if (x.Count < 2) throw new ArgumentException($"a curve needs at least two points, got {x.Count}");
        double area = 0;
        for (int i = 0; i < x.Count; i++)
        {
            if (!double.IsFinite(x[i]) || !double.IsFinite(y[i])) throw new ArgumentException($"curve point {i} is not finite ({x[i]}, {y[i]})");
            if (i == 0) continue;
            double dx = x[i] - x[i - 1];
            if (!(dx > 0)) throw new ArgumentException($"curve x must increase strictly; x[{i - 1}] = {x[i - 1]}, x[{i}] = {x[i]}");
            area += dx * (y[i] + y[i - 1]) / 2;
        }
        return area / (x[^1] - x[0]);
    }

    /// <summary>Normalised AUC of scores taken at equally spaced steps from 0 to 1.</summary>
    public static double Auc(IReadOnlyList<double> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Count < 2) throw new ArgumentException($"a curve needs at least two points, got {scores.Count}");
        var x = new double[scores.Count];
        for (int i = 0; i < x.Length; i++) x[i] = (double)i / (x.Length - 1);
        return Auc(x, scores);
    }

    /// <summary>Cell indices in order of decreasing value (ties: lower index first).</summary>
    /// <exception cref="ArgumentException">A value is NaN.</exception>
    public static int[] Descending(IReadOnlyList<float> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        for (int i = 0; i < values.Count; i++)
            if (float.IsNaN(values[i])) throw new ArgumentException($"explanation value {i} is NaN; cannot order patches");
        var order = Enumerable.Range(0, values.Count).ToArray();
        // OrderBy is stable, so equal values keep index order.
        return order.OrderByDescending(i => values[i]).ToArray();
    }

    /// <summary>A seeded random permutation of <paramref name="count"/> cells (Fisher-Yates on <see cref="Random"/>(seed)).</summary>
    public static int[] RandomOrder(int count, int seed)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "must be non-negative");
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new Random(seed);
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>Number of steps after the unperturbed start: <c>ceil(cells / perStep)</c>.</summary>
    public static int Steps(int cells, int perStep) => (cells + perStep - 1) / perStep;

    /// <summary>Fractions perturbed at each of the <c>Steps + 1</c> points.</summary>
    public static double[] Fractions(int cells, int perStep)
    {
        int steps = Steps(cells, perStep);
        var f = new double[steps + 1];
        for (int s = 0; s <= steps; s++) f[s] = (double)Math.Min(s * perStep, cells) / cells;
        return f;
    }

    /// <summary>Point-wise mean of equally long curves.</summary>
    internal static double[] Mean(IReadOnlyList<double[]> curves)
    {
        var m = new double[curves[0].Length];
        foreach (var c in curves)
        {
            if (c.Length != m.Length) throw new ArgumentException($"curves differ in length ({c.Length} vs {m.Length})");
            for (int i = 0; i < m.Length; i++) m[i] += c[i];
        }
        for (int i = 0; i < m.Length; i++) m[i] /= curves.Count;
        return m;
    }
}
