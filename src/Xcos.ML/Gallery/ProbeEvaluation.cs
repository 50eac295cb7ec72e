using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.Gallery;

/// <summary>A probe row that could not be searched.</summary>
/// <param name="Line">Its line in the list.</param>
/// <param name="File">The photo.</param>
/// <param name="Reason">The face status with its detail (missing_file, no_face, ...).</param>
internal sealed record SkippedProbe(int Line, string File, string Reason);

/// <summary>What one probe gave.</summary>
/// <param name="Row">The row.</param>
/// <param name="Mated">Whether its identity is enrolled.</param>
/// <param name="ByCosine">Shortlist in cosine order (identity, cosine).</param>
/// <param name="ByXcos">Shortlist in xCos order (identity, xCos).</param>
internal sealed record ProbeOutcome(ProbeRow Row, bool Mated, IReadOnlyList<(string Identity, double Score)> ByCosine, IReadOnlyList<(string Identity, double Score)> ByXcos);

/// <summary>Results of a probe list: cosine search (the model decides) and xCos re-ranking of the same shortlists, side by side.</summary>
/// <param name="Probes">Rows in the list.</param>
/// <param name="Cosine">Rank-1/5 and TPIR at FPIR by cosine.</param>
/// <param name="Xcos">The same with the shortlist re-ranked by xCos (TPIR on xCos scores).</param>
/// <param name="Outcomes">Per searched probe.</param>
/// <param name="Skipped">Rows not searched, with reasons.</param>
internal sealed record ProbeEvaluationResult(int Probes, IdentificationResults Cosine, IdentificationResults Xcos, IReadOnlyList<ProbeOutcome> Outcomes, IReadOnlyList<SkippedProbe> Skipped);

/// <summary>Runs a probe list through a <see cref="FaceIdentifier"/>.</summary>
internal static class ProbeEvaluation
{
    /// <summary>Searches every row; rows whose photo has no usable face are skipped with the reason.</summary>
    /// <param name="identifier">Model and gallery.</param>
    /// <param name="rows">Probe rows.</param>
    /// <param name="root">Folder relative paths are resolved against (null: as given).</param>
    /// <param name="shortlist">Identities re-ranked per probe (at least 5 so rank-5 is defined).</param>
    /// <param name="fpir">Target FPIR of the open-set TPIR.</param>
    /// <param name="aligned">Probes are aligned faces.</param>
    /// <param name="progress">Called after each row with (done, total).</param>
    public static ProbeEvaluationResult Run(FaceIdentifier identifier, IReadOnlyList<ProbeRow> rows, string? root = null, int shortlist = 20,
        double fpir = 1e-2, bool aligned = false, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        ArgumentNullException.ThrowIfNull(rows);
        var enrolled = identifier.Gallery.Identities.ToHashSet(StringComparer.Ordinal);
        var outcomes = new List<ProbeOutcome>();
        var skipped = new List<SkippedProbe>();
        var options = new FaceIdentifierOptions { Top = Math.Max(5, shortlist), Shortlist = Math.Max(5, shortlist), Aligned = aligned, Threshold = identifier.Encoder.Threshold ?? 0 };
        string PathOf(ProbeRow row) => root is null || Path.IsPathRooted(row.File) ? row.File : Path.Combine(root, row.File);
        IReadOnlyList<FaceEncoding> encoded = [];
        for (int i = 0; i < rows.Count; i++)
        {
            // Probes are encoded in batches of 32 (one face model call each where the model takes batches).
            if (i % 32 == 0) encoded = identifier.Encoder.EncodeFiles(rows.Skip(i).Take(32).Select(r => (string?)PathOf(r)).ToList(), aligned);
            var row = rows[i];
            var path = PathOf(row);
            var probe = encoded[i % 32];
            if (probe.Status != FaceStatus.Ok) skipped.Add(new SkippedProbe(row.Line, path, probe.StatusText));
            else
            {
                var r = identifier.Identify(probe, options);
                var byCos = r.Matches.Select(m => (m.Identity, m.Cosine)).ToList();
                var byXcos = r.Matches.OrderByDescending(m => m.Score!.Value).ThenByDescending(m => m.Cosine).Select(m => (m.Identity, m.Score!.Value)).ToList();
                outcomes.Add(new ProbeOutcome(row, enrolled.Contains(row.Identity), byCos, byXcos));
            }
            progress?.Invoke(i + 1, rows.Count);
        }
        if (!outcomes.Any(o => o.Mated))
            throw new InvalidDataException($"none of the {outcomes.Count} searchable probes has an enrolled identity (skipped: {skipped.Count}); rank and TPIR are undefined");
        var cos = IdentificationMetrics.Compute(outcomes.Select(o => new ProbeSearch(o.Row.Identity, o.Mated, o.ByCosine)).ToList(), fpir);
        var xc = IdentificationMetrics.Compute(outcomes.Select(o => new ProbeSearch(o.Row.Identity, o.Mated, o.ByXcos)).ToList(), fpir);
        return new ProbeEvaluationResult(rows.Count, cos, xc, outcomes, skipped);
    }
}
