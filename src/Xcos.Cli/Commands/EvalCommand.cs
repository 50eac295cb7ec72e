using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Torch;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos eval --pairs FILE`: the 10-fold protocol, AUC, TAR@FAR and EER for xCos and the plain cosine on a pair set
/// (.bin, LFW pairs.txt or pair TSV, told apart by content). Rows that cannot be scored are counted in `skipped`
/// and listed, never dropped silently.
/// </summary>
internal static class EvalCommand
{
    public sealed record MetricsJson(
        [property: JsonPropertyName("auc")] double Auc,
        [property: JsonPropertyName("accuracy")] double Accuracy,
        [property: JsonPropertyName("accuracy_std")] double AccuracyStd,
        [property: JsonPropertyName("threshold")] double Threshold,
        [property: JsonPropertyName("tar_at_far_1e-3")] double TarAtFar1e3,
        [property: JsonPropertyName("tar_at_far_1e-4")] double TarAtFar1e4,
        [property: JsonPropertyName("eer")] double Eer)
    {
        public static MetricsJson From(VerificationReport r) =>
            new(r.Auc, r.AccuracyMean, r.AccuracyStd, r.ThresholdMean, r.TarAtFar1e3, r.TarAtFar1e4, r.Eer);
    }

    public sealed record SkippedJson(
        [property: JsonPropertyName("row")] int Row,
        [property: JsonPropertyName("id1")] string Id1,
        [property: JsonPropertyName("id2")] string Id2,
        [property: JsonPropertyName("reason")] string Reason);

    public sealed record EvalJson(
        [property: JsonPropertyName("pairs")] int Pairs,
        [property: JsonPropertyName("skipped")] int Skipped,
        [property: JsonPropertyName("xcos")] MetricsJson Xcos,
        [property: JsonPropertyName("cosine")] MetricsJson Cosine,
        [property: JsonPropertyName("cosine_source")] string CosineSource,
        [property: JsonPropertyName("skipped_rows")] SkippedJson[] SkippedRows,
        [property: JsonPropertyName("report")] string? Report);

    /// <summary>One scored pair, kept for the metrics and the report's figures.</summary>
    internal sealed record Scored(int Row, FacePair Pair, double Xcos, double Cosine, float[] CosMap, float[] Attention, float[]? Contributions);

    public static Command Create()
    {
        var pairs = new Option<FileInfo>("--pairs") { Description = "Pair set: InsightFace .bin, LFW pairs.txt or a TSV (file1, file2, same)", Required = true };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Folder the pair file's image paths are relative to (default: the pair file's folder)" };
        var model = new ModelArgs();
        var real = new RealFaceArgs();
        var aligned = new Option<bool>("--aligned") { Description = "Images are aligned 112x112 faces (no detection)" };
        var maxPairs = new Option<int?>("--max-pairs") { Description = "Evaluate only the first N pairs" };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Write an HTML report (ROC, histograms, worst errors) to this folder" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("eval", "Evaluate xCos and the plain cosine on a pair set with the 10-fold protocol");
        model.AddTo(cmd);
        real.AddTo(cmd);
        foreach (var o in new Option[] { pairs, root, aligned, maxPairs, report, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var file = p.GetValue(pairs)!;
            if (!file.Exists) throw new CliException($"{file.FullName}: pair file not found.");
            var set = PairSetReader.Load(file.FullName, p.GetValue(root)?.FullName);
            int n = Math.Min(set.Count, p.GetValue(maxPairs) ?? int.MaxValue);
            bool photos = p.GetValue(model.Checkpoint) is null;
            if (photos && p.GetValue(aligned))
                throw new CliException("--aligned needs --checkpoint (the ONNX face models run detection and alignment themselves).", ExitCodes.Usage);
            // the detector (or verifier) stays open until the report has re-aligned the faces it shows
            using var verifier = photos ? real.CreateVerifier(p, null, p.GetValue(model.Threads) ?? 0) : null;
            using var detector = !photos && !p.GetValue(aligned) ? real.CreateDetector(p) : null;
            var skipped = new List<SkippedJson>();
            var (scored, cosineSource) = photos
                ? ScorePhotos(verifier!, set, n, skipped)
                : ScoreCheckpoint(p, model, set, n, detector, skipped);
            if (scored.Count < 2 || scored.All(s => s.Pair.Same) || scored.All(s => !s.Pair.Same))
                throw new CliException($"{file.FullName}: {scored.Count} of {n} pairs could be scored; the metrics need both same and different pairs (skipped: {skipped.Count}){SkipReasons(skipped, set, detector is not null)}.");
            var same = scored.Select(s => s.Pair.Same).ToArray();
            // the protocol's 10 folds, fewer only for a set too small to split that way
            var protocol = new VerificationOptions { Folds = Math.Min(10, scored.Count) };
            var xr = VerificationMetrics.Evaluate(scored.Select(s => s.Xcos).ToArray(), same, protocol);
            var cr = VerificationMetrics.Evaluate(scored.Select(s => s.Cosine).ToArray(), same, protocol);
            string? reportPath = null;
            if (p.GetValue(report) is { } dir)
            {
                Func<string, RgbImage?> face = photos
                    ? id => verifier!.Analyse(ImageIO.Load(set.ReadImage(id), name: id), id).Aligned
                    : id => LoadFace(set, id, detector).Face;
                reportPath = ReportWriter.Write(dir.FullName, file.Name, scored, face, xr, cr, cosineSource, protocol);
            }
            var result = new EvalJson(n, skipped.Count, MetricsJson.From(xr), MetricsJson.From(cr), cosineSource, skipped.ToArray(), reportPath);
            if (p.GetValue(json)) Cli.WriteJson(result);
            else
            {
                Console.WriteLine($"{file.Name}: {scored.Count} pairs scored, {skipped.Count} skipped");
                Console.WriteLine($"  xCos             AUC {xr.Auc:F4}  10-fold accuracy {xr.AccuracyMean:F4} ± {xr.AccuracyStd:F4}  EER {xr.Eer:F4}  TAR@FAR1e-3 {xr.TarAtFar1e3:F4}");
                Console.WriteLine($"  cosine ({cosineSource,-6}) AUC {cr.Auc:F4}  10-fold accuracy {cr.AccuracyMean:F4} ± {cr.AccuracyStd:F4}  EER {cr.Eer:F4}  TAR@FAR1e-3 {cr.TarAtFar1e3:F4}");
                foreach (var s in skipped.Take(10)) Console.WriteLine($"  skipped {(set.Format == PairSetFormat.InsightFaceBin ? "pair" : "line")} {s.Row} ({s.Id1}, {s.Id2}): {s.Reason}");
                if (reportPath is not null) Console.WriteLine($"report: {reportPath}");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    // Why nothing could be scored: the commonest reasons, and the usual cause for .bin files (faces already aligned).
    private static string SkipReasons(List<SkippedJson> skipped, PairSet set, bool detected)
    {
        if (skipped.Count == 0) return "";
        var common = skipped.GroupBy(s => s.Reason.Contains(": ", StringComparison.Ordinal) ? s.Reason[(s.Reason.LastIndexOf(": ", StringComparison.Ordinal) + 2)..] : s.Reason)
            .OrderByDescending(g => g.Count()).Take(2).Select(g => $"{g.Count()} x '{g.Key}'");
        var hint = set.Format == PairSetFormat.InsightFaceBin && detected
            ? "; InsightFace .bin files hold faces already aligned to 112x112, so the detector finds none: add --aligned"
            : "";
        return $"; reasons: {string.Join(", ", common)}{hint}";
    }

    /// <summary>Decodes one image of the set and aligns it (detector) or checks it is an aligned face (no detector).</summary>
    private static (RgbImage? Face, string Status) LoadFace(PairSet set, string id, FaceDetector? detector)
    {
        try
        {
            var img = ImageIO.Load(set.ReadImage(id), name: id);
            if (detector is not null)
                return detector.DetectAndAlign(img).Face is { } face ? (face, "ok") : (null, $"{id}: no face found");
            return img.Width == 112 && img.Height == 112 ? (img, "ok") : (null, $"{id}: expected an aligned 112x112 face, got {img.Width}x{img.Height}");
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
        {
            return (null, e.Message);
        }
    }

    private static (List<Scored>, string) ScoreCheckpoint(ParseResult p, ModelArgs model, PairSet set, int n, FaceDetector? detector, List<SkippedJson> skipped)
    {
        var (m, _) = model.Load(p);
        using var _m = m;
        var result = new List<Scored>(n);
        string source = m.BackboneTarget is null ? "grid" : "target";
        CliProgress.Run("scoring pairs", n, advance =>
        {
            const int chunk = 64;
            for (int start = 0; start < n; start += chunk)
            {
                var batch = new List<(int Row, RgbImage A, RgbImage B)>();
                for (int i = start; i < Math.Min(n, start + chunk); i++)
                {
                    var pair = set.Pairs[i];
                    var (a, sa) = LoadFace(set, pair.Id1, detector);
                    var (b, sb) = LoadFace(set, pair.Id2, detector);
                    if (a is null || b is null) skipped.Add(new SkippedJson(set.RowOf(i), pair.Id1, pair.Id2, a is null ? sa : sb));
                    else batch.Add((i, a, b));
                }
                var scores = XcosScorer.Score(m, batch.Select(x => (x.A, x.B)).ToList());
                for (int k = 0; k < batch.Count; k++)
                {
                    var r = scores[k];
                    result.Add(new Scored(batch[k].Row, set.Pairs[batch[k].Row], r.Score, r.Cosine, r.CosMap, r.Attention, null));
                }
                advance(Math.Min(chunk, n - start));
            }
            return 0;
        });
        return (result, source);
    }

    private static (List<Scored>, string) ScorePhotos(RealFaceVerifier verifier, PairSet set, int n, List<SkippedJson> skipped)
    {
        (FaceEmbedding? Embedding, string Status) Embed(string id)
        {
            try
            {
                var (_, aligned) = verifier.Analyse(ImageIO.Load(set.ReadImage(id), name: id), id);
                return aligned is null ? (null, $"{id}: no face found") : (verifier.Embedder.Embed([aligned])[0], "ok");
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                return (null, e.Message);
            }
        }
        var result = new List<Scored>(n);
        CliProgress.Run("detect, align, embed, explain", n, advance =>
        {
            for (int i = 0; i < n; i++)
            {
                var pair = set.Pairs[i];
                var a = Embed(pair.Id1);
                var b = Embed(pair.Id2);
                if (a.Embedding is null || b.Embedding is null) skipped.Add(new SkippedJson(set.RowOf(i), pair.Id1, pair.Id2, a.Embedding is null ? a.Status : b.Status));
                else
                {
                    var ex = verifier.Explain(a.Embedding, b.Embedding);
                    double cos = RealFaceVerifier.Cosine(a.Embedding.Embedding, b.Embedding.Embedding);
                    result.Add(new Scored(i, pair, ex.Xcos, cos, ex.CosMap, ex.Attention, ex.Contributions));
                }
                advance(1);
            }
            return 0;
        });
        return (result, "model");
    }
}
