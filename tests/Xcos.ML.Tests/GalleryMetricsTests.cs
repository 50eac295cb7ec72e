using Xcos.ML.Gallery;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>Rank-k and open-set TPIR at FPIR on hand-made searches.</summary>
public class GalleryMetricsTests
{
    private static ProbeSearch S(string who, bool mated, params (string, double)[] ranked) => new(who, mated, ranked);

    [Fact]
    public void Rank_and_tpir_follow_the_frvt_definitions()
    {
        var searches = new List<ProbeSearch>
        {
            S("a", true, ("a", 0.9), ("b", 0.2)),
            S("b", true, ("b", 0.5), ("a", 0.4)),
            S("c", true, ("a", 0.6), ("c", 0.55)),          // mate at rank 2
            S("d", true, ("x", 0.3), ("y", 0.2), ("z", 0.1), ("w", 0.1), ("v", 0.1), ("d", 0.05)), // mate at rank 6
        };
        // 100 non-mated searches: top scores 0.00 .. 0.99; FPIR 1e-2 allows one at or above the threshold
        for (int i = 0; i < 100; i++) searches.Add(S("n" + i, false, ("a", i / 100.0)));
        var r = IdentificationMetrics.Compute(searches);
        Assert.Equal(4, r.Mated);
        Assert.Equal(100, r.NonMated);
        Assert.Equal(0.5, r.Rank1);
        Assert.Equal(0.75, r.Rank5);
        Assert.Equal(0.01, r.AchievedFpir!.Value, 9);
        Assert.True(r.Threshold > 0.98 && r.Threshold <= 0.99);
        // only the first probe's mate is first with a score >= ~0.98 ... none: 0.9 < threshold
        Assert.Equal(0.0, r.Tpir);
        var loose = IdentificationMetrics.Compute(searches, fpir: 0.5);
        Assert.True(loose.Threshold > 0.49 && loose.Threshold <= 0.5);
        Assert.Equal(0.5, loose.Tpir);   // "a" at 0.9 and "b" at 0.5
    }

    [Fact]
    public void Without_non_mated_probes_tpir_is_null_with_a_reason()
    {
        var r = IdentificationMetrics.Compute([S("a", true, ("a", 0.9))]);
        Assert.Null(r.Tpir);
        Assert.Contains("non-mated", r.Note);
        Assert.Throws<ArgumentException>(() => IdentificationMetrics.Compute([S("a", false, ("b", 0.9))]));
    }
}
