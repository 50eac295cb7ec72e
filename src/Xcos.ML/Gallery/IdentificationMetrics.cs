namespace Xcos.ML.Gallery;

/// <summary>One probe search for <see cref="IdentificationMetrics"/>.</summary>
/// <param name="Identity">Who the probe truly is.</param>
/// <param name="Mated">Whether that identity is enrolled in the gallery.</param>
/// <param name="Ranked">The candidate identities, best first, each with the score that ranked it.</param>
internal sealed record ProbeSearch(string Identity, bool Mated, IReadOnlyList<(string Identity, double Score)> Ranked);

/// <summary>Closed- and open-set identification accuracy of a set of searches.</summary>
/// <param name="Mated">Mated searches (probe enrolled).</param>
/// <param name="NonMated">Non-mated searches (probe not enrolled).</param>
/// <param name="Rank1">Share of mated searches whose first candidate is the mate.</param>
/// <param name="Rank5">Share of mated searches with the mate among the first five.</param>
/// <param name="Tpir">True-positive identification rate at <paramref name="Fpir"/>, or null without non-mated searches.</param>
/// <param name="Fpir">The target false-positive identification rate.</param>
/// <param name="AchievedFpir">FPIR at the chosen threshold (at most the target; coarse with few non-mated searches), or null.</param>
/// <param name="Threshold">The threshold that achieves it, or null.</param>
/// <param name="Note">Why <paramref name="Tpir"/> is null, or null.</param>
internal sealed record IdentificationResults(int Mated, int NonMated, double Rank1, double Rank5, double? Tpir, double Fpir, double? AchievedFpir, double? Threshold, string? Note);

/// <summary>
/// Rank-k accuracy and open-set TPIR at a fixed FPIR, as NIST FRVT 1:N defines them: the threshold T is the lowest
/// at which the share of non-mated searches whose first candidate scores at least T (FPIR) stays within the target;
/// TPIR(T) = 1 - FNIR(T), the share of mated searches whose mate is the first candidate with a score of at least T.
/// </summary>
internal static class IdentificationMetrics
{
    /// <summary>Computes the results; <paramref name="fpir"/> is the target FPIR (default 1e-2).</summary>
    /// <exception cref="ArgumentException">No mated search.</exception>
    public static IdentificationResults Compute(IReadOnlyList<ProbeSearch> searches, double fpir = 1e-2)
    {
        ArgumentNullException.ThrowIfNull(searches);
        if (fpir is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(fpir), fpir, "FPIR must be in (0, 1)");
        var mated = searches.Where(s => s.Mated).ToList();
        var nonMated = searches.Where(s => !s.Mated).ToList();
        if (mated.Count == 0) throw new ArgumentException("no mated search (no probe identity is enrolled): rank and TPIR are undefined");
        double RankK(int k) => mated.Count(s => s.Ranked.Take(k).Any(r => r.Identity == s.Identity)) / (double)mated.Count;
        if (nonMated.Count == 0)
            return new IdentificationResults(mated.Count, 0, RankK(1), RankK(5), null, fpir, null, null,
                "no non-mated probe (every probe identity is enrolled): FPIR cannot be measured");
        var top = nonMated.Select(s => s.Ranked.Count == 0 ? double.NegativeInfinity : s.Ranked[0].Score).OrderByDescending(x => x).ToArray();
        int allowed = (int)Math.Floor(fpir * top.Length);
        // lowest threshold with at most `allowed` non-mated first candidates at or above it
        double threshold = allowed >= top.Length ? double.NegativeInfinity : Math.BitIncrement(top[allowed]);
        double achieved = top.Count(x => x >= threshold) / (double)top.Length;
        double tpir = mated.Count(s => s.Ranked.Count > 0 && s.Ranked[0].Identity == s.Identity && s.Ranked[0].Score >= threshold) / (double)mated.Count;
        string? note = allowed == 0 ? $"{top.Length} non-mated probes: FPIR {fpir} allows none above the threshold" : null;
        return new IdentificationResults(mated.Count, nonMated.Count, RankK(1), RankK(5), tpir, fpir, achieved, threshold, note);
    }
}
