using Xcos.ML.Data;
using Xcos.ML.Images;
using Xcos.ML.Metrics;

namespace Xcos.ML.Verification;

/// <summary>
/// One pair set verified and scored with the verification protocol: the xCos and plain-cosine reports over the pairs that
/// could be scored, and every pair that could not, with its reason (never dropped silently).
/// </summary>
internal sealed class PairSetEvaluation
{
    private PairSetEvaluation(PairSet set, (string Id1, string Id2)[] ids, IReadOnlyList<FacePairVerification> verified, int[] scored,
        VerificationOptions protocol, VerificationReport xcos, VerificationReport cosine, UnscoredPair[] unscored)
    {
        Set = set;
        Ids = ids;
        Verified = verified;
        Scored = scored;
        Protocol = protocol;
        Xcos = xcos;
        Cosine = cosine;
        Unscored = unscored;
    }

    /// <summary>The pair set.</summary>
    public PairSet Set { get; }

    /// <summary>Image ids of each pair evaluated (the first <see cref="Count"/> pairs of the set).</summary>
    public IReadOnlyList<(string Id1, string Id2)> Ids { get; }

    /// <summary>Pairs evaluated.</summary>
    public int Count => Ids.Count;

    /// <summary>The verification of each pair evaluated.</summary>
    public IReadOnlyList<FacePairVerification> Verified { get; }

    /// <summary>Indexes of the pairs that were scored, in order.</summary>
    public IReadOnlyList<int> Scored { get; }

    /// <summary>Labels of the scored pairs.</summary>
    public bool[] ScoredSame => Scored.Select(i => Set.Pairs[i].Same).ToArray();

    /// <summary>The protocol used: 10 folds, fewer only for a set too small to split that way.</summary>
    public VerificationOptions Protocol { get; }

    /// <summary>Figures of the xCos score.</summary>
    public VerificationReport Xcos { get; }

    /// <summary>Figures of the plain cosine.</summary>
    public VerificationReport Cosine { get; }

    /// <summary>The pairs that could not be scored.</summary>
    public IReadOnlyList<UnscoredPair> Unscored { get; }

    /// <summary>One row per pair evaluated, scored or not, for <see cref="PairScoresFile"/>.</summary>
    public IEnumerable<PairScoreRow> ScoreRows() => Enumerable.Range(0, Count).Select(i =>
    {
        var v = Verified[i];
        return new PairScoreRow(Ids[i].Id1, Ids[i].Id2, Set.Pairs[i].Same, v.IsOk ? v.Xcos : null, v.IsOk ? v.Cosine : null,
            v.IsOk ? FaceStatus.Ok.ToText() : v.FailureText!.ReplaceLineEndings(" ").Replace('\t', ' '));
    });

    /// <summary>Verifies the first <paramref name="maxPairs"/> pairs of <paramref name="set"/> and scores them.</summary>
    /// <param name="verifier">The verifier; each distinct image is read, aligned and embedded once.</param>
    /// <param name="set">The pair set; its images are read through <see cref="PairSet.ReadImage"/>.</param>
    /// <param name="maxPairs">Pairs to evaluate at most.</param>
    /// <param name="progress">Receives the number of pairs verified.</param>
    /// <exception cref="InvalidDataException">Fewer than two pairs could be scored, or they are all same or all different
    /// (the message says how many were scored and the commonest reasons of the others).</exception>
    public static PairSetEvaluation Evaluate(IFacePairVerifier verifier, PairSet set, int maxPairs = int.MaxValue, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(set);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPairs, 1);
        int n = Math.Min(set.Count, maxPairs);
        var ids = set.Pairs.Take(n).Select(x => (x.Id1, x.Id2)).ToArray();
        var verified = verifier.VerifyMany(ids, id => ImageIO.Load(set.ReadImage(id), name: id), progress: progress);
        var unscored = Enumerable.Range(0, n).Where(i => !verified[i].IsOk)
            .Select(i => new UnscoredPair(set.RowOf(i), ids[i].Id1, ids[i].Id2, verified[i].FailureText!)).ToArray();
        var scored = Enumerable.Range(0, n).Where(i => verified[i].IsOk).ToArray();
        var same = scored.Select(i => set.Pairs[i].Same).ToArray();
        if (scored.Length < 2 || same.All(s => s) || same.All(s => !s))
            throw new InvalidDataException($"{set.Source}: {scored.Length} of {n} pairs could be scored; the metrics need both same and different pairs (skipped: {unscored.Length}){Reasons(unscored, set, !verifier.AlignedInput)}.");
        var protocol = new VerificationOptions { Folds = Math.Min(10, scored.Length) };
        var xcos = VerificationMetrics.Evaluate(scored.Select(i => verified[i].Xcos).ToArray(), same, protocol);
        var cosine = VerificationMetrics.Evaluate(scored.Select(i => verified[i].Cosine).ToArray(), same, protocol);
        return new PairSetEvaluation(set, ids, verified, scored, protocol, xcos, cosine, unscored);
    }

    // The two commonest reasons, and the hint a .bin set of aligned faces run through the detector needs.
    private static string Reasons(UnscoredPair[] unscored, PairSet set, bool detected)
    {
        if (unscored.Length == 0) return "";
        var common = unscored.GroupBy(s => s.Reason.Contains(": ", StringComparison.Ordinal) ? s.Reason[(s.Reason.LastIndexOf(": ", StringComparison.Ordinal) + 2)..] : s.Reason)
            .OrderByDescending(g => g.Count()).Take(2).Select(g => $"{g.Count()} x '{g.Key}'");
        var hint = set.Format == PairSetFormat.InsightFaceBin && detected
            ? "; InsightFace .bin files hold faces already aligned to 112x112, so the detector finds none: add --aligned"
            : "";
        return $"; reasons: {string.Join(", ", common)}{hint}";
    }
}
