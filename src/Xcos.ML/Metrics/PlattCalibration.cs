namespace Xcos.ML.Metrics;

/// <summary>
/// Platt scaling: <c>P(same | s) = 1 / (1 + exp(A s + B))</c>, fitted by maximum likelihood with Platt's smoothed
/// targets, using the Newton method with backtracking of Lin, Lin and Weng ("A note on Platt's probabilistic outputs
/// for support vector machines", 2007), which stays stable on separable data.
/// </summary>
/// <param name="A">Slope (negative when a larger score means "same").</param>
/// <param name="B">Offset.</param>
public sealed record PlattCalibration(double A, double B)
{
    /// <summary>The probability of "same" at score <paramref name="s"/>; NaN stays NaN.</summary>
    public double Probability(double s)
    {
        double z = A * s + B;
        // Two forms of the same value, each free of overflow on its side.
        return z >= 0 ? Math.Exp(-z) / (1 + Math.Exp(-z)) : 1 / (1 + Math.Exp(z));
    }

    /// <summary>Fits A and B to scores and labels; non-finite scores are left out.</summary>
    /// <exception cref="ArgumentException">Different lengths, or no finite score of either class.</exception>
    public static PlattCalibration Fit(IReadOnlyList<double> scores, IReadOnlyList<bool> same)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(same);
        if (scores.Count != same.Count) throw new ArgumentException($"{scores.Count} scores but {same.Count} labels");
        var f = new List<double>();
        var y = new List<bool>();
        for (int i = 0; i < scores.Count; i++)
            if (double.IsFinite(scores[i])) { f.Add(scores[i]); y.Add(same[i]); }
        int pos = y.Count(v => v), neg = y.Count - pos;
        if (pos == 0 || neg == 0)
            throw new ArgumentException($"Platt calibration needs both classes among the scored pairs (same: {pos}, different: {neg})");
        double hi = (pos + 1.0) / (pos + 2.0), lo = 1.0 / (neg + 2.0);
        var t = y.Select(v => v ? hi : lo).ToArray();
        double a = 0, b = Math.Log((neg + 1.0) / (pos + 1.0));
        const double sigma = 1e-12, minStep = 1e-10, eps = 1e-5;
        double Objective(double aa, double bb)
        {
            double sum = 0;
            for (int i = 0; i < f.Count; i++)
            {
                double z = f[i] * aa + bb;
                sum += z >= 0 ? t[i] * z + Math.Log(1 + Math.Exp(-z)) : (t[i] - 1) * z + Math.Log(1 + Math.Exp(z));
            }
            return sum;
        }
        double fval = Objective(a, b);
        for (int iter = 0; iter < 100; iter++)
        {
            double h11 = sigma, h22 = sigma, h21 = 0, g1 = 0, g2 = 0;
            for (int i = 0; i < f.Count; i++)
            {
                double z = f[i] * a + b;
                double p = z >= 0 ? Math.Exp(-z) / (1 + Math.Exp(-z)) : 1 / (1 + Math.Exp(z));
                double q = 1 - p;
                double d2 = p * q, d1 = t[i] - p;
                h11 += f[i] * f[i] * d2; h22 += d2; h21 += f[i] * d2;
                g1 += f[i] * d1; g2 += d1;
            }
            if (Math.Abs(g1) < eps && Math.Abs(g2) < eps) break;
            double det = h11 * h22 - h21 * h21;
            double dA = -(h22 * g1 - h21 * g2) / det, dB = -(-h21 * g1 + h11 * g2) / det;
            double gd = g1 * dA + g2 * dB, step = 1;
            while (step >= minStep)
            {
                double na = a + step * dA, nb = b + step * dB, nf = Objective(na, nb);
                if (nf < fval + 1e-4 * step * gd) { a = na; b = nb; fval = nf; break; }
                step /= 2;
            }
            if (step < minStep) break;
        }
        return new PlattCalibration(a, b);
    }
}
