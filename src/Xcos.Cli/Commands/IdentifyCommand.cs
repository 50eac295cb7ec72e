using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.Figures;
using Xcos.ML.Gallery;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos identify --gallery G IMG`: who is this, among the enrolled identities (top k by the model's cosine, each
/// explained by the pair head; open-set "unknown" under the threshold). `--probes FILE.tsv` runs a labelled probe
/// list instead and reports rank-1, rank-5 and TPIR at FPIR 1e-2 for cosine search and for xCos re-ranking.
/// </summary>
internal static class IdentifyCommand
{
    public sealed record MetricsJson(double Rank1, double Rank5, [property: JsonPropertyName("tpir_at_fpir")] double? Tpir, double Fpir,
        double? AchievedFpir, double? Threshold, string? Note);

    public sealed record SkippedRowJson(int Line, string File, string Reason);

    public sealed record ProbesJson(int Probes, int Searched, int Mated, int NonMated, int GalleryFaces, int GalleryIdentities,
        [property: JsonPropertyName("xcos")] string Variant,
        int Shortlist, double Rank1, double Rank5,
        [property: JsonPropertyName("tpir_at_fpir_1e-2")] double? Tpir,
        MetricsJson Cosine,
        [property: JsonPropertyName("xcos_rerank")] MetricsJson Xcos,
        int Skipped, SkippedRowJson[] SkippedRows);

    public static Command Create()
    {
        var args = new GalleryArgs();
        var img = new Argument<FileInfo?>("IMG") { Description = "Probe photo", Arity = ArgumentArity.ZeroOrOne };
        var probes = new Option<FileInfo?>("--probes") { Description = "Probe list: TSV rows 'file<TAB>identity' (identities not enrolled are non-mated probes)" };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Folder the probe list's relative paths start from (default: the list's folder)" };
        var top = new Option<int>("--top") { Description = "Identities to return", DefaultValueFactory = _ => 5 };
        var shortlist = new Option<int>("--shortlist") { Description = "Identities from the cosine search that the pair head scores", DefaultValueFactory = _ => 20 };
        var rerank = new Option<bool>("--rerank") { Description = "Order the matches by xCos (of --xcos, on the gallery's stored codes, one batched head call per probe) instead of the model's cosine (the cosine still shortlists and decides unknown)" };
        var threshold = new Option<double?>("--threshold") { Description = "Open-set cosine threshold (default: the face model's)" };
        var explain = new Option<FileInfo?>("--explain") { Description = "Write a figure of the probe next to its top matches with their maps (PNG)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("identify", "Find who a face is among the people enrolled in a gallery (1:N), with an explanation per match") { img };
        args.AddTo(cmd);
        foreach (var o in new Option[] { probes, root, top, shortlist, rerank, threshold, explain, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var probe = p.GetValue(img);
            var list = p.GetValue(probes);
            if ((probe is null) == (list is null)) throw new CliException("give either a probe photo IMG or --probes FILE.tsv.", ExitCodes.Usage);
            if (p.GetValue(top) < 1 || p.GetValue(shortlist) < 1) throw new CliException("--top and --shortlist must be at least 1.", ExitCodes.Usage);
            if (list is not null && p.GetValue(explain) is not null) throw new CliException("--explain draws one probe; use it with IMG, not --probes.", ExitCodes.Usage);
            var location = args.Location(p);
            using var encoder = args.CreateEncoder(p, p.GetValue(threshold));
            using var gallery = args.OpenGallery(p, encoder.Model, GalleryOpenMode.ReadOnly);
            var name = FaceGalleries.Display(location);
            if (gallery.FaceCount == 0) throw new CliException($"{name}: the gallery is empty; enrol photos with `xcos enroll`.");
            var identifier = new FaceIdentifier(encoder, gallery, name);
            return list is not null
                ? Probes(p, args, identifier, list, p.GetValue(root), p.GetValue(shortlist), p.GetValue(json))
                : One(p, args, identifier, probe!, new FaceIdentifierOptions
                {
                    Top = p.GetValue(top), Shortlist = Math.Max(p.GetValue(top), p.GetValue(shortlist)), Rerank = p.GetValue(rerank),
                    Threshold = p.GetValue(threshold), Aligned = p.GetValue(args.Aligned),
                }, p.GetValue(explain), p.GetValue(json));
        });
        return cmd;
    }

    private static int One(ParseResult p, GalleryArgs args, FaceIdentifier identifier, FileInfo probe, FaceIdentifierOptions options, FileInfo? explain, bool json)
    {
        if (!probe.Exists) throw new CliException($"{probe.FullName}: image not found.");
        var enc = identifier.Encoder.EncodeFile(probe.FullName, options.Aligned);
        if (enc.Status is not (FaceStatus.Ok or FaceStatus.NoFace)) throw new CliException($"{probe.FullName}: {enc.StatusText}.");
        Identification r;
        try { r = identifier.Identify(enc, options); }
        catch (ArgumentException e) { throw new CliException(e.Message + " (--threshold)", ExitCodes.Usage); }
        if (explain is not null && r.Matches.Count > 0)
        {
            var matches = r.Matches.Select(m => new IdentificationFigureMatch(m.Identity, GalleryFaceImage(identifier, m.Face.SourceFile, options.Aligned),
                m.Cosine, m.Score!.Value, m.Explanation!.CosMap, m.Explanation.Attention, m.Explanation.Contributions)).ToList();
            string verdict = r.Unknown ? "unknown (best cosine under the threshold)" : $"{r.Matches[0].Identity}";
            IdentificationFigure.Save(explain.FullName, r.Probe.Face!, probe.Name, matches, r.Matches[0].Explanation!.MapSide,
                $"{verdict}; threshold {r.Threshold:F3}; order: {r.Order}; the cosine decides, xCos explains");
        }
        if (json)
            Cli.WriteJson(IdentificationJson.From(probe.FullName, r, identifier.Gallery.FaceCount));
        else if (enc.Status != FaceStatus.Ok) Console.WriteLine($"no face found in {Cli.Printable(probe.FullName)}");
        else
        {
            Console.WriteLine(r.Unknown ? $"unknown: best cosine {(r.Matches.Count > 0 ? r.Matches[0].Cosine : (double?)null):F4} is under the threshold {r.Threshold:F3}"
                : $"{Cli.Printable(r.Matches[0].Identity)}: cosine {r.Matches[0].Cosine:F4} >= threshold {r.Threshold:F3}");
            foreach (var (m, i) in r.Matches.Select((m, i) => (m, i)))
                Console.WriteLine($"{i + 1,3}. {Cli.Printable(m.Identity),-28} cosine {m.Cosine:F4}   xCos {m.Score:F4}   {Cli.Printable(m.Face.SourceFile)}");
            if (explain is not null) Console.WriteLine($"figure: {explain.FullName}");
        }
        return enc.Status == FaceStatus.Ok ? ExitCodes.Ok : ExitCodes.Failure;
    }

    // the gallery keeps codes, not pixels: the figure re-aligns the enrolled photo when it is still there
    private static RgbImage? GalleryFaceImage(FaceIdentifier identifier, string source, bool aligned)
    {
        var e = identifier.Encoder.EncodeFile(source, aligned);
        return e.Status == FaceStatus.Ok ? e.Face : null;
    }

    private static int Probes(ParseResult p, GalleryArgs args, FaceIdentifier identifier, FileInfo list, DirectoryInfo? root, int shortlist, bool json)
    {
        var rows = ProbeList.Read(list.FullName);
        var dir = root?.FullName ?? list.DirectoryName!;
        var result = CliProgress.Run("identifying", rows.Count, step =>
            ProbeEvaluation.Run(identifier, rows, dir, shortlist, aligned: p.GetValue(args.Aligned), progress: (_, _) => step(1)));
        static MetricsJson M(IdentificationResults r) => new(r.Rank1, r.Rank5, r.Tpir, r.Fpir, r.AchievedFpir, double.IsFinite(r.Threshold ?? 0) ? r.Threshold : null, r.Note);
        var c = result.Cosine;
        if (json)
            Cli.WriteJson(new ProbesJson(result.Probes, result.Outcomes.Count, c.Mated, c.NonMated, identifier.Gallery.FaceCount, identifier.Gallery.Identities.Count,
                identifier.Encoder.Model.CodesVariant, shortlist, c.Rank1, c.Rank5, c.Tpir, M(c), M(result.Xcos), result.Skipped.Count,
                result.Skipped.Select(s => new SkippedRowJson(s.Line, s.File, s.Reason)).ToArray()));
        else
        {
            Console.WriteLine($"{result.Outcomes.Count} of {result.Probes} probes searched ({c.Mated} mated, {c.NonMated} non-mated) against {identifier.Gallery.FaceCount} faces of {identifier.Gallery.Identities.Count} identities");
            foreach (var (name, r) in new[] { ("cosine (the model)", c), ($"{identifier.Encoder.Model.CodesVariant} xCos re-rank", result.Xcos) })
                Console.WriteLine($"{name,-20} rank-1 {r.Rank1:F4}  rank-5 {r.Rank5:F4}  TPIR@FPIR={r.Fpir:G2} " + (r.Tpir is { } t ? $"{t:F4} (achieved FPIR {r.AchievedFpir:F4})" : "n/a") + (r.Note is null ? "" : $"  [{r.Note}]"));
            foreach (var s in result.Skipped) Console.WriteLine($"skipped line {s.Line} {Cli.Printable(s.File)}: {Cli.Printable(s.Reason)}");
        }
        return ExitCodes.Ok;
    }
}
