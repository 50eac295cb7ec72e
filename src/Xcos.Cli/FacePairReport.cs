using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.Cli;

/// <summary>
/// Turns verified pairs into the input of the HTML evaluation report (<see cref="EvaluationReport"/>) of <c>xcos eval</c>.
/// It draws figures of verification results, so it sits above both <c>Verification/</c> and <c>Figures/</c> of Xcos.ML.
/// </summary>
internal static class FacePairReport
{
    /// <summary>
    /// The report input of <paramref name="results"/> (all ok) with their labels. The figures of the pairs the report
    /// shows are drawn from the same verifier, which verifies those pairs again with their aligned faces kept, so the
    /// results themselves need not hold any faces.
    /// </summary>
    /// <param name="verifier">The verifier that produced the results (still open).</param>
    /// <param name="ids">Image ids of each result's pair, as given to <see cref="IFacePairVerifier.VerifyMany"/>.</param>
    /// <param name="results">Verified pairs, all ok.</param>
    /// <param name="same">Label of each pair.</param>
    /// <param name="load">The loader given to <see cref="IFacePairVerifier.VerifyMany"/>; null reads files.</param>
    /// <param name="names">Caption of each pair; null: "a.jpg | b.jpg".</param>
    /// <param name="title">Page title; null: the report's default.</param>
    /// <param name="description">Text under the title.</param>
    /// <exception cref="ArgumentException">Lengths differ, or a result is not ok.</exception>
    public static EvaluationReportInput Input(IFacePairVerifier verifier, IReadOnlyList<(string Id1, string Id2)> ids, IReadOnlyList<FacePairVerification> results,
        IReadOnlyList<bool> same, Func<string, RgbImage>? load = null, IReadOnlyList<string>? names = null, string? title = null, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(same);
        if (ids.Count != results.Count || same.Count != results.Count || (names is not null && names.Count != results.Count))
            throw new ArgumentException($"{results.Count} results, {ids.Count} id pairs, {same.Count} labels{(names is null ? "" : $", {names.Count} names")}: one of each per pair");
        for (int i = 0; i < results.Count; i++)
            if (!results[i].IsOk) throw new ArgumentException($"pair {i} was not scored ({results[i].FailureText}); leave failed pairs out of the report");
        return new EvaluationReportInput
        {
            XcosScores = results.Select(r => r.Xcos).ToArray(),
            CosineScores = results.Select(r => r.Cosine).ToArray(),
            Same = same.ToArray(),
            PairNames = names ?? ids.Select(p => $"{Path.GetFileName(p.Id1)} | {Path.GetFileName(p.Id2)}").ToArray(),
            Title = title,
            Description = description,
            Explain = (i, threshold) =>
            {
                var again = verifier.VerifyMany([ids[i]], load, keepFaces: true)[0];
                if (!again.IsOk) throw new InvalidOperationException($"pair {i} could not be verified again for its figure ({again.FailureText})");
                return again.ToExplanationInput(Path.GetFileName(ids[i].Id1), Path.GetFileName(ids[i].Id2),
                    same[i] ? "labelled: same person" : "labelled: different people", threshold);
            },
        };
    }
}
