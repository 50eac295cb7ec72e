namespace Xcos.ML.Metrics;

/// <summary>Face verification metrics over scored pairs (higher score = more likely the same identity):
/// the k-fold accuracy protocol of the original evaluation, exact ROC, AUC, EER and TAR at FAR.</summary>
public static class VerificationMetrics
{
    /// <summary>Evaluates everything: k-fold protocol, ROC figures and the best threshold over all pairs.</summary>
    /// <exception cref="ArgumentException">Lengths differ, a score is NaN, fewer pairs than folds, or one class is missing.</exception>
    public static VerificationReport Evaluate(ReadOnlySpan<float> scores, ReadOnlySpan<bool> same, VerificationOptions? options = null)
        => EvaluateCore(ToDouble(scores), same, options, singlePrecision: true);

    /// <inheritdoc cref="Evaluate(ReadOnlySpan{float}, ReadOnlySpan{bool}, VerificationOptions?)"/>
    public static VerificationReport Evaluate(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same, VerificationOptions? options = null)
        => EvaluateCore(scores, same, options, singlePrecision: false);

    private static VerificationReport EvaluateCore(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same, VerificationOptions? options, bool singlePrecision)
    {
        options ??= new VerificationOptions();
        var kfold = KFoldCore(scores, same, options, singlePrecision);
        var roc = Roc(scores, same);
        var eer = Eer(roc);
        var (bestThreshold, bestAccuracy) = BestThresholdCore(scores, same, kfold.Thresholds, singlePrecision);
        int positives = 0;
        foreach (bool s in same) if (s) positives++;
        return new VerificationReport
        {
            Pairs = scores.Length,
            SamePairs = positives,
            DifferentPairs = scores.Length - positives,
            Folds = kfold.FoldAccuracies.Length,
            FoldAccuracies = kfold.FoldAccuracies,
            FoldThresholds = kfold.FoldThresholds,
            AccuracyMean = kfold.AccuracyMean,
            AccuracyStd = kfold.AccuracyStd,
            ThresholdMean = kfold.ThresholdMean,
            BestThreshold = bestThreshold,
            BestAccuracy = bestAccuracy,
            Auc = Auc(roc),
            Eer = eer.Rate,
            EerThreshold = eer.Threshold,
            TarAtFar1e3 = TarAt(roc, 1e-3).Tar,
            TarAtFar1e4 = TarAt(roc, 1e-4).Tar,
            TarAtFar = options.FalseAcceptRates.Select(f => TarAt(roc, f)).ToArray(),
        };
    }

    /// <summary>The k-fold protocol of the original evaluation (<c>calculate_roc_attention</c>).</summary>
    /// <remarks>Folds are consecutive blocks, the first <c>n % k</c> one pair longer. For each fold the threshold is
    /// the first grid value with the highest accuracy on the other folds ("same" when score &gt; threshold); the fold's
    /// accuracy is measured with it. Counts are exact integers, so the accuracies equal NumPy's <c>(tp + tn) / n</c>.
    /// float32 scores are compared with the thresholds rounded to float32, as NumPy 1.x does for a float32 array
    /// against a float64 scalar; the reported thresholds are the float64 grid values.</remarks>
    public static KFoldResult KFold(ReadOnlySpan<float> scores, ReadOnlySpan<bool> same, VerificationOptions? options = null)
        => KFoldCore(ToDouble(scores), same, options, singlePrecision: true);

    /// <summary>The k-fold protocol on float64 scores (compared with the float64 thresholds).</summary>
    /// <inheritdoc cref="KFold(ReadOnlySpan{float}, ReadOnlySpan{bool}, VerificationOptions?)"/>
    public static KFoldResult KFold(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same, VerificationOptions? options = null)
        => KFoldCore(scores, same, options, singlePrecision: false);

    private static KFoldResult KFoldCore(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same, VerificationOptions? options, bool singlePrecision)
    {
        options ??= new VerificationOptions();
        Check(scores, same);
        int n = scores.Length, k = options.Folds;
        if (k < 2) throw new ArgumentException($"VerificationOptions.Folds must be at least 2, got {k}.");
        if (n < k) throw new ArgumentException($"{n} pairs cannot be split into {k} folds.");
        double[] grid = options.BuildThresholds();
        double[] compareGrid = singlePrecision ? ToSingleGrid(grid) : grid;
        int t = grid.Length;

        // Per fold, histograms of "how many grid thresholds lie strictly below the score": a pair with
        // position p is predicted same exactly for thresholds 0..p-1, so every threshold's counts follow from prefix sums.
        var posHist = new long[k, t + 1];
        var negHist = new long[k, t + 1];
        var foldSize = new int[k];
        var foldStart = new int[k + 1];
        for (int f = 0; f < k; f++) foldStart[f + 1] = foldStart[f] + n / k + (f < n % k ? 1 : 0);
        for (int f = 0; f < k; f++)
        {
            foldSize[f] = foldStart[f + 1] - foldStart[f];
            for (int i = foldStart[f]; i < foldStart[f + 1]; i++)
            {
                int p = CountBelow(compareGrid, scores[i]);
                if (same[i]) posHist[f, p]++; else negHist[f, p]++;
            }
        }

        var foldAcc = new double[k];
        var foldThr = new double[k];
        var meanTpr = new double[t];
        var meanFpr = new double[t];
        var trainPos = new long[t + 1];
        var trainNeg = new long[t + 1];
        var testPos = new long[t + 1];
        var testNeg = new long[t + 1];
        for (int f = 0; f < k; f++)
        {
            Array.Clear(trainPos); Array.Clear(trainNeg); Array.Clear(testPos); Array.Clear(testNeg);
            for (int g = 0; g < k; g++)
            {
                var (pos, neg) = g == f ? (testPos, testNeg) : (trainPos, trainNeg);
                for (int p = 0; p <= t; p++) { pos[p] += posHist[g, p]; neg[p] += negHist[g, p]; }
            }
            long[] trainCorrect = Correct(trainPos, trainNeg, t);
            int trainSize = n - foldSize[f];
            int best = 0;
            double bestAcc = (double)trainCorrect[0] / trainSize;
            for (int j = 1; j < t; j++)
            {
                double acc = (double)trainCorrect[j] / trainSize;
                if (acc > bestAcc) { bestAcc = acc; best = j; }
            }
            foldThr[f] = grid[best];
            foldAcc[f] = (double)Correct(testPos, testNeg, t)[best] / foldSize[f];

            // Held-out TPR / FPR at every threshold, as the original averages them for its ROC plot.
            long posTotal = testPos.Sum(), negTotal = testNeg.Sum();
            long tp = posTotal, fp = negTotal;
            for (int j = 0; j < t; j++)
            {
                tp -= testPos[j]; fp -= testNeg[j];
                meanTpr[j] += posTotal == 0 ? 0 : (double)tp / posTotal;
                meanFpr[j] += negTotal == 0 ? 0 : (double)fp / negTotal;
            }
        }
        for (int j = 0; j < t; j++) { meanTpr[j] /= k; meanFpr[j] /= k; }
        return new KFoldResult(foldAcc, foldThr, grid, meanTpr, meanFpr);
    }

    /// <summary>First threshold of the grid with the highest accuracy over all pairs ("same" when score &gt; threshold).</summary>
    public static (double Threshold, double Accuracy) BestThreshold(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same, IReadOnlyList<double> thresholds)
        => BestThresholdCore(scores, same, thresholds, singlePrecision: false);

    /// <summary>As the float64 overload; float32 scores are compared with float32-rounded thresholds (NumPy 1.x).</summary>
    public static (double Threshold, double Accuracy) BestThreshold(ReadOnlySpan<float> scores, ReadOnlySpan<bool> same, IReadOnlyList<double> thresholds)
        => BestThresholdCore(ToDouble(scores), same, thresholds, singlePrecision: true);

    private static (double Threshold, double Accuracy) BestThresholdCore(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same, IReadOnlyList<double> thresholds, bool singlePrecision)
    {
        Check(scores, same);
        if (scores.Length == 0) throw new ArgumentException("no pairs to evaluate.");
        if (thresholds.Count == 0) throw new ArgumentException("the threshold grid is empty.");
        double bestT = 0, bestAcc = double.NegativeInfinity;
        foreach (double th in thresholds)
        {
            double cmp = singlePrecision ? (float)th : th;
            long correct = 0;
            for (int i = 0; i < scores.Length; i++) if ((scores[i] > cmp) == same[i]) correct++;
            double acc = (double)correct / scores.Length;
            if (acc > bestAcc) { bestAcc = acc; bestT = th; }
        }
        return (bestT, bestAcc);
    }

    /// <summary>Exact ROC curve over every distinct score.</summary>
    /// <exception cref="ArgumentException">No same or no different pair, lengths differ, or a score is NaN.</exception>
    public static RocCurve Roc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> same) => Roc(ToDouble(scores), same);

    /// <inheritdoc cref="Roc(ReadOnlySpan{float}, ReadOnlySpan{bool})"/>
    public static RocCurve Roc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same)
    {
        Check(scores, same);
        int n = scores.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        long pTotal = 0;
        foreach (bool s in same) if (s) pTotal++;
        long nTotal = n - pTotal;
        if (pTotal == 0 || nTotal == 0)
            throw new ArgumentException($"an ROC curve needs both same and different pairs; got {pTotal} same and {nTotal} different.");

        var tps = new List<long> { 0 };
        var fps = new List<long> { 0 };
        var thr = new List<double> { Math.BitIncrement(keys[n - 1]) };
        long tp = 0, fp = 0;
        for (int i = n - 1; i >= 0;)
        {
            double v = keys[i];
            for (; i >= 0 && keys[i] == v; i--) { if (same[order[i]]) tp++; else fp++; }
            tps.Add(tp); fps.Add(fp); thr.Add(v);
        }
        return new RocCurve(tps.ToArray(), fps.ToArray(), pTotal, nTotal, thr.ToArray());
    }

    /// <summary>Area under the ROC curve (trapezoids over the exact curve: a tie between a same and a different pair counts one half).</summary>
    public static double Auc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> same) => Auc(Roc(scores, same));

    /// <inheritdoc cref="Auc(ReadOnlySpan{float}, ReadOnlySpan{bool})"/>
    public static double Auc(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same) => Auc(Roc(scores, same));

    /// <summary>Area under an ROC curve by the trapezoid rule, summed in integer counts and divided once.</summary>
    public static double Auc(RocCurve roc)
    {
        Int128 twice = 0;
        for (int i = 1; i < roc.Count; i++)
            twice += (Int128)(roc.FalsePositives[i] - roc.FalsePositives[i - 1]) * (roc.TruePositives[i] + roc.TruePositives[i - 1]);
        return (double)twice / (2.0 * roc.Positives * roc.Negatives);
    }

    /// <summary>Highest true accept rate among ROC points whose false accept rate is at most <paramref name="far"/>.</summary>
    public static TarAtFar TarAt(RocCurve roc, double far)
    {
        if (double.IsNaN(far) || far < 0 || far > 1) throw new ArgumentOutOfRangeException(nameof(far), far, "a false accept rate lies in [0, 1].");
        int best = 0;
        // FPR and TPR never decrease along the curve, so the last point within the FAR budget is the best one.
        for (int i = 1; i < roc.Count && roc.FalsePositiveRates[i] <= far; i++) best = i;
        return new TarAtFar(far, roc.TruePositiveRates[best], roc.FalsePositiveRates[best], roc.Thresholds[best]);
    }

    /// <summary>Equal error rate: where the false reject rate (1 - TPR) meets the false accept rate.</summary>
    public static EqualErrorRate Eer(RocCurve roc)
    {
        // (FNR - FPR) * P * N in integers, so an exact meeting point is found exactly.
        long p = roc.Positives, n = roc.Negatives;
        Int128 Gap(int i) => (Int128)(p - roc.TruePositives[i]) * n - (Int128)roc.FalsePositives[i] * p;
        Int128 prev = Gap(0);
        for (int i = 1; i < roc.Count; i++)
        {
            Int128 d = Gap(i);
            if (d <= 0)
            {
                double f0 = roc.FalsePositiveRates[i - 1], f1 = roc.FalsePositiveRates[i];
                double rate = d == 0 ? f1 : f0 + (double)prev / (double)(prev - d) * (f1 - f0);
                return new EqualErrorRate(rate, roc.Thresholds[i]);
            }
            prev = d;
        }
        // Unreachable for a complete curve, whose last point is (1, 1).
        throw new InvalidOperationException("the ROC curve does not reach (1, 1).");
    }

    internal static double PopulationStd(double[] values)
    {
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
    }

    private static long[] Correct(long[] pos, long[] neg, int t)
    {
        // correct[j] = same pairs with position > j (score > grid[j]) + different pairs with position <= j.
        var correct = new long[t];
        long posAbove = pos.Sum(), negBelow = 0;
        for (int j = 0; j < t; j++)
        {
            posAbove -= pos[j];
            negBelow += neg[j];
            correct[j] = posAbove + negBelow;
        }
        return correct;
    }

    private static double[] ToSingleGrid(double[] grid)
    {
        var g = new double[grid.Length];
        for (int i = 0; i < g.Length; i++) g[i] = (float)grid[i];
        return g;
    }

    private static int CountBelow(double[] grid, double score)
    {
        // Number of grid values strictly below the score (grid ascending).
        int lo = 0, hi = grid.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (grid[mid] < score) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    private static void Check(ReadOnlySpan<double> scores, ReadOnlySpan<bool> same)
    {
        if (scores.Length != same.Length)
            throw new ArgumentException($"{scores.Length} scores but {same.Length} labels.");
        for (int i = 0; i < scores.Length; i++)
            if (double.IsNaN(scores[i])) throw new ArgumentException($"score of pair {i} is NaN.");
    }

    private static double[] ToDouble(ReadOnlySpan<float> scores)
    {
        // float -> double is exact: no score moves.
        var d = new double[scores.Length];
        for (int i = 0; i < d.Length; i++) d[i] = scores[i];
        return d;
    }
}
