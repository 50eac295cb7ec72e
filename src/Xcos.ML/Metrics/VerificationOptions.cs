namespace Xcos.ML.Metrics;

/// <summary>Settings of the verification evaluation. The defaults are the standard 10-fold protocol of the
/// original xCos evaluation (thresholds <c>np.arange(-1.0, 1.0, 0.005)</c>, a pair is "same" when score &gt; threshold).</summary>
public sealed class VerificationOptions
{
    /// <summary>Number of consecutive folds. Default 10. The first <c>n % Folds</c> folds hold one pair more (scikit-learn KFold, no shuffle).</summary>
    public int Folds { get; set; } = 10;

    /// <summary>First threshold of the grid. Default -1.0.</summary>
    public double ThresholdStart { get; set; } = -1.0;

    /// <summary>Exclusive end of the grid. Default 1.0.</summary>
    public double ThresholdStop { get; set; } = 1.0;

    /// <summary>Grid step. Default 0.005.</summary>
    public double ThresholdStep { get; set; } = 0.005;

    /// <summary>An explicit ascending threshold grid; when set it replaces Start/Stop/Step. Default null.</summary>
    public double[]? Thresholds { get; set; }

    /// <summary>False accept rates at which the report gives the true accept rate. Default 1e-3 and 1e-4.</summary>
    public double[] FalseAcceptRates { get; set; } = [1e-3, 1e-4];

    /// <summary>The threshold grid: <see cref="Thresholds"/> if set, else the grid <c>np.arange(start, stop, step)</c> builds.</summary>
    /// <remarks>NumPy fills an arange as <c>start + i * delta</c> with <c>delta = (start + step) - start</c>, not <c>step</c>;
    /// for the default grid that delta is 0.0050000000000000044 and the chosen thresholds (e.g. 0.28500000000000103)
    /// only match the original evaluation when built the same way.</remarks>
    public double[] BuildThresholds()
    {
        if (Thresholds is { } explicitGrid)
        {
            if (explicitGrid.Length == 0) throw new ArgumentException("VerificationOptions.Thresholds is empty.");
            for (int i = 0; i < explicitGrid.Length; i++)
            {
                if (double.IsNaN(explicitGrid[i])) throw new ArgumentException($"VerificationOptions.Thresholds[{i}] is NaN.");
                if (i > 0 && explicitGrid[i] < explicitGrid[i - 1])
                    throw new ArgumentException($"VerificationOptions.Thresholds must be ascending: [{i - 1}]={explicitGrid[i - 1]} > [{i}]={explicitGrid[i]}.");
            }
            return (double[])explicitGrid.Clone();
        }
        return Arange(ThresholdStart, ThresholdStop, ThresholdStep);
    }

    /// <summary>NumPy's <c>arange</c> for float64: length <c>ceil((stop - start) / step)</c>, values <c>start + i * ((start + step) - start)</c>.</summary>
    public static double[] Arange(double start, double stop, double step)
    {
        if (!(step > 0) || double.IsInfinity(step)) throw new ArgumentException($"threshold step must be positive and finite, got {step}.");
        if (!double.IsFinite(start) || !double.IsFinite(stop)) throw new ArgumentException($"threshold range must be finite, got [{start}, {stop}).");
        double len = Math.Ceiling((stop - start) / step);
        if (len <= 0) throw new ArgumentException($"threshold range [{start}, {stop}) with step {step} is empty.");
        if (len > 100_000_000) throw new ArgumentException($"threshold grid of {len} values is too large.");
        var grid = new double[(int)len];
        grid[0] = start;
        if (grid.Length > 1)
        {
            grid[1] = start + step;
            double delta = grid[1] - grid[0];
            for (int i = 2; i < grid.Length; i++) grid[i] = start + i * delta;
        }
        return grid;
    }
}
