using System.Globalization;
using System.Text.Json;
using Xcos.ML.Data;
using Xcos.ML.Metrics;
using Xunit;

namespace Xcos.ML.Tests;

public class VerificationMetricsTests
{
    private static (float[] Scores, bool[] Same) Fixture() =>
        (Npy.Read(Fixtures.Path("verify_scores.npy")).AsFloat32(), Npy.Read(Fixtures.Path("verify_same.npy")).AsBool());

    [Fact]
    public void KFold_ReproducesFixtureExactly()
    {
        var (scores, same) = Fixture();
        double[] acc = Npy.Read(Fixtures.Path("verify_fold_accuracy.npy")).AsFloat64();
        double[] thr = Npy.Read(Fixtures.Path("verify_fold_threshold.npy")).AsFloat64();

        var result = VerificationMetrics.KFold(scores, same);

        Assert.Equal(acc, result.FoldAccuracies);   // exact: no tolerance
        Assert.Equal(thr, result.FoldThresholds);
        Assert.Equal(acc.Average(), result.AccuracyMean);
        Assert.Equal(thr.Average(), result.ThresholdMean);
    }

    [Fact]
    public void KFold_DoubleScores_ReproduceFixtureToo()
    {
        var (scores, same) = Fixture();
        var result = VerificationMetrics.KFold(scores.Select(v => (double)v).ToArray(), same);
        Assert.Equal(Npy.Read(Fixtures.Path("verify_fold_accuracy.npy")).AsFloat64(), result.FoldAccuracies);
        Assert.Equal(Npy.Read(Fixtures.Path("verify_fold_threshold.npy")).AsFloat64(), result.FoldThresholds);
    }

    [Fact]
    public void Thresholds_AreNumpyArange()
    {
        double[] grid = new VerificationOptions().BuildThresholds();
        Assert.Equal(400, grid.Length);
        Assert.Equal(-1.0, grid[0]);
        // numpy fills start + i * ((start + step) - start); i * 0.005 - 1 gives a different last bit here.
        Assert.Equal(0.28500000000000103, grid[257]);
        Assert.NotEqual(257 * 0.005 - 1, grid[257]);
        Assert.True(grid[^1] < 1.0 && grid[^1] > 0.99);
    }

    [Fact]
    public void KFold_FoldsAreConsecutiveBlocks_FirstOnesLonger()
    {
        // 7 pairs, 3 folds -> blocks {0,1,2} {3,4} {5,6}. With one threshold, pair i is right iff (0.9 > 0.5) == same[i]:
        // right/wrong = [1,0,0 | 1,0 | 1,1] -> accuracies 1/3, 1/2, 1.
        double[] scores = [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9];
        bool[] same = [true, false, false, true, false, true, true];
        var r = VerificationMetrics.KFold(scores, same, new VerificationOptions { Folds = 3, Thresholds = [0.5] });
        Assert.Equal(new[] { 1 / 3.0, 0.5, 1.0 }, r.FoldAccuracies);
        Assert.Equal(new[] { 0.5, 0.5, 0.5 }, r.FoldThresholds);
    }

    [Fact]
    public void KFold_ThresholdLearntOnOtherFolds()
    {
        // Fold 0 = pairs 0..2 (different, yet scored 0.9). Its training set {3..6} (0.9 same, 0.1 different)
        // is separated by 0.5, which then calls every pair of fold 0 "same": accuracy 0.
        double[] scores = [0.9, 0.9, 0.9, 0.9, 0.1, 0.9, 0.1];
        bool[] same = [false, false, false, true, false, true, false];
        var r = VerificationMetrics.KFold(scores, same, new VerificationOptions { Folds = 3, Thresholds = [0.0, 0.5, 0.95] });
        Assert.Equal(0.5, r.FoldThresholds[0]);
        Assert.Equal(0.0, r.FoldAccuracies[0]);
        // Fold 1's training set {0,1,2,5,6}: 0.95 gets 4 of 5 right (0.5 only 2) -> fold 1 (0.9 same, 0.1 diff) scores 1/2.
        Assert.Equal(0.95, r.FoldThresholds[1]);
        Assert.Equal(0.5, r.FoldAccuracies[1]);
    }

    [Fact]
    public void KFold_PicksFirstOfTiedThresholds_AndStrictGreater()
    {
        // Every threshold in [0.2, 0.8) separates perfectly; the first such grid value is chosen.
        double[] scores = [0.8, 0.8, 0.2, 0.2, 0.8, 0.2, 0.8, 0.2, 0.8, 0.2];
        bool[] same = [true, true, false, false, true, false, true, false, true, false];
        var r = VerificationMetrics.KFold(scores, same, new VerificationOptions { Folds = 5, Thresholds = [0.1, 0.2, 0.5, 0.8] });
        // 0.2 is perfect because "same" needs score > threshold; 0.8 would reject the 0.8 scores.
        Assert.All(r.FoldThresholds, t => Assert.Equal(0.2, t));
        Assert.All(r.FoldAccuracies, a => Assert.Equal(1.0, a));
    }

    [Fact]
    public void Float32Scores_CompareWithFloat32Thresholds()
    {
        // A float32 score equal to the float32-rounded threshold is not above it (NumPy 1.x compares in float32),
        // even though as a double it may be above the float64 threshold.
        double th = 0.28500000000000103;
        float s = (float)th;
        Assert.True((double)s > th || (double)s < th);
        var opt = new VerificationOptions { Folds = 2, Thresholds = [th] };
        var f32 = VerificationMetrics.KFold(new[] { s, s }, new[] { false, false }, opt);
        Assert.Equal(new[] { 1.0, 1.0 }, f32.FoldAccuracies);
        var f64 = VerificationMetrics.KFold(new[] { (double)s, s }, new[] { false, false }, opt);
        Assert.Equal((double)s > th ? 0.0 : 1.0, f64.FoldAccuracies[0]);
    }

    [Fact]
    public void PerfectSeparation_AucOne_EerZero()
    {
        double[] scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        bool[] same = [true, true, true, false, false, false];
        var roc = VerificationMetrics.Roc(scores, same);
        Assert.Equal(1.0, VerificationMetrics.Auc(scores, same));
        Assert.Equal(1.0, VerificationMetrics.Auc(roc));
        var eer = VerificationMetrics.Eer(roc);
        Assert.Equal(0.0, eer.Rate);
        Assert.Equal(0.7, eer.Threshold);
        var tar = VerificationMetrics.TarAt(roc, 0);
        Assert.Equal(1.0, tar.Tar);
        Assert.Equal(0.7, tar.Threshold);
    }

    [Fact]
    public void ReversedScores_AucZero_EerOne()
    {
        double[] scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9];
        bool[] same = [true, true, true, false, false, false];
        Assert.Equal(0.0, VerificationMetrics.Auc(scores, same));
        var roc = VerificationMetrics.Roc(scores, same);
        Assert.Equal(1.0, VerificationMetrics.Eer(roc).Rate);
        Assert.Equal(0.0, VerificationMetrics.TarAt(roc, 0.5).Tar);
    }

    [Fact]
    public void HandComputedCase_WithTie()
    {
        // same: 0.9, 0.5, 0.4; different: 0.5, 0.3, 0.1.
        // AUC = P(same > different) + 1/2 P(tie) = (3 + 2.5 + 2) / 9 = 7.5 / 9.
        double[] scores = [0.9, 0.5, 0.4, 0.5, 0.3, 0.1];
        bool[] same = [true, true, true, false, false, false];
        Assert.Equal(7.5 / 9, VerificationMetrics.Auc(scores, same), 15);

        var roc = VerificationMetrics.Roc(scores, same);
        // points: (0,0) (0,1/3)@0.9 (1/3,2/3)@0.5 (1/3,1)@0.4 (2/3,1)@0.3 (1,1)@0.1
        Assert.Equal(new[] { 0, 0, 1 / 3.0, 1 / 3.0, 2 / 3.0, 1 }, roc.FalsePositiveRates);
        Assert.Equal(new[] { 0, 1 / 3.0, 2 / 3.0, 1, 1, 1 }, roc.TruePositiveRates);
        Assert.Equal(new[] { 0.9, 0.5, 0.4, 0.3, 0.1 }, roc.Thresholds.Skip(1));
        Assert.True(roc.Thresholds[0] > 0.9);
        Assert.Equal(7.5 / 9, VerificationMetrics.Auc(roc), 12);

        // FNR = FPR = 1/3 at the 0.5 point.
        var eer = VerificationMetrics.Eer(roc);
        Assert.Equal(1 / 3.0, eer.Rate, 12);
        Assert.Equal(0.5, eer.Threshold);

        Assert.Equal(1 / 3.0, VerificationMetrics.TarAt(roc, 0).Tar);
        Assert.Equal(1 / 3.0, VerificationMetrics.TarAt(roc, 0.3).Tar);
        var at04 = VerificationMetrics.TarAt(roc, 0.4);
        Assert.Equal(1.0, at04.Tar);
        Assert.Equal(0.4, at04.Threshold);
        Assert.Equal(1 / 3.0, at04.Far);
    }

    [Fact]
    public void Eer_InterpolatesAlongCrossingSegment()
    {
        // same: 0.9, 0.6; different: 0.6, 0.1 -> points (0,0) (0,.5) (.5,1) (1,1).
        // FNR - FPR: 1, .5, -.5 -> crossing halfway along (0,.5)-(.5,1): EER = 0.25.
        double[] scores = [0.9, 0.6, 0.6, 0.1];
        bool[] same = [true, true, false, false];
        var roc = VerificationMetrics.Roc(scores, same);
        Assert.Equal(0.25, VerificationMetrics.Eer(roc).Rate, 12);
        Assert.Equal(3.5 / 4, VerificationMetrics.Auc(scores, same));
    }

    [Fact]
    public void Evaluate_ReportOnFixture_IsConsistentAndSerializes()
    {
        var (scores, same) = Fixture();
        var report = VerificationMetrics.Evaluate(scores, same);
        Assert.Equal(603, report.Pairs);
        Assert.Equal(report.Pairs, report.SamePairs + report.DifferentPairs);
        Assert.Equal(Npy.Read(Fixtures.Path("verify_fold_accuracy.npy")).AsFloat64(), report.FoldAccuracies);
        Assert.InRange(report.Auc, 0.5, 1.0);
        Assert.InRange(report.Eer, 0.0, 0.5);
        Assert.True(report.BestAccuracy >= report.FoldAccuracies.Min());
        Assert.Equal(2, report.TarAtFar.Length);
        Assert.Equal(report.TarAtFar1e3, report.TarAtFar[0].Tar);
        Assert.True(report.TarAtFar1e4 <= report.TarAtFar1e3);

        // AUC from the exact rational equals the brute-force Mann-Whitney count.
        double wins = 0; int p = 0, n = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (!same[i]) continue; p++;
            for (int j = 0; j < scores.Length; j++)
                if (!same[j]) wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
        }
        n = scores.Length - p;
        Assert.Equal(wins / ((double)p * n), report.Auc, 12);

        string json = JsonSerializer.Serialize(report);
        Assert.Contains("\"accuracyMean\":", json);
        Assert.Contains("\"tarAtFar1e-3\":", json);
        var back = JsonSerializer.Deserialize<VerificationReport>(json)!;
        Assert.Equal(report.AccuracyMean, back.AccuracyMean);
        Assert.Equal(report.FoldThresholds, back.FoldThresholds);
    }

    [Fact]
    public void ToString_PrintsTheFoldValuesNotTheArrayType()
    {
        var (scores, same) = Fixture();
        var report = VerificationMetrics.Evaluate(scores, same) with { Skipped = [new SkippedPair(3, "face1 no_face")] };
        var text = report.ToString();
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal);
        Assert.Contains("FoldAccuracies = [" + string.Join(", ", report.FoldAccuracies.Select(a => a.ToString(CultureInfo.InvariantCulture))) + "]", text, StringComparison.Ordinal);
        Assert.Contains("FoldThresholds = [" + report.FoldThresholds[0].ToString(CultureInfo.InvariantCulture) + ", ", text, StringComparison.Ordinal);
        Assert.Contains("TarAtFar = [TarAtFar { TargetFar = 0.001, ", text, StringComparison.Ordinal);
        Assert.Contains("Auc = " + report.Auc.ToString(CultureInfo.InvariantCulture) + ",", text, StringComparison.Ordinal);
        Assert.EndsWith("ThresholdSource = null, Skipped = 1 pairs }", text, StringComparison.Ordinal);
        Assert.StartsWith("VerificationReport { Pairs = 603, ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void BadInput_IsRejected()
    {
        Assert.Throws<ArgumentException>(() => VerificationMetrics.KFold(new[] { 0.1, 0.2 }, new[] { true }));
        Assert.Throws<ArgumentException>(() => VerificationMetrics.KFold(new[] { 0.1, double.NaN }, new[] { true, false }, new VerificationOptions { Folds = 2 }));
        Assert.Throws<ArgumentException>(() => VerificationMetrics.KFold(new[] { 0.1, 0.2 }, new[] { true, false }));
        Assert.Throws<ArgumentException>(() => VerificationMetrics.Roc(new[] { 0.1, 0.2 }, new[] { true, true }));
        Assert.Throws<ArgumentException>(() => new VerificationOptions { Thresholds = [0.5, 0.1] }.BuildThresholds());
    }
}
