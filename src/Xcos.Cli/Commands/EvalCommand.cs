using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Torch;
using Xcos.ML.Torch.Config;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos eval --pairs FILE...`: the 10-fold protocol, AUC, TAR@FAR and EER for xCos and the plain cosine on pair sets
/// (.bin, LFW pairs.txt or pair TSV, told apart by content), or on a config's test_data_loaders; several sets (or
/// --flip) print one table. Rows that cannot be scored are counted in `skipped` and listed, never dropped silently.
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

    public sealed record SetJson(
        [property: JsonPropertyName("data_set")] string DataSet,
        [property: JsonPropertyName("source")] string Source,
        [property: JsonPropertyName("result")] EvalJson Result);

    public sealed record BenchmarkJson(
        [property: JsonPropertyName("flip")] bool Flip,
        [property: JsonPropertyName("sets")] SetJson[] Sets);

    public static Command Create()
    {
        var pairs = new Option<FileInfo[]>("--pairs") { Description = "Pair set(s): InsightFace .bin, LFW pairs.txt or a TSV (file1, file2, same); several give one table", AllowMultipleArgumentsPerToken = true };
        var config = new Option<FileInfo?>("--config") { Description = "Config in the original xCos schema: its test_data_loaders (<data_dir>/<name>.bin) are the pair sets" };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Folder the pair file's image paths are relative to (default: the pair file's folder)" };
        var model = new ModelArgs();
        var real = new RealFaceArgs();
        var aligned = new Option<bool>("--aligned") { Description = "Images are aligned 112x112 faces (no detection; .bin sets are)" };
        var flip = new Option<bool>("--flip") { Description = "Flip test-time augmentation: each face is embedded as image + mirrored image" };
        var maxPairs = new Option<int?>("--max-pairs") { Description = "Evaluate only the first N pairs" };
        var report = new Option<DirectoryInfo?>("--report") { Description = "Write an HTML report (ROC, histograms, worst errors) to this folder (one subfolder per set when several)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var scoresFile = new Option<FileInfo?>("--scores") { Description = "Write one TSV row per pair (of every set): file1, file2, same, xcos, cosine, status, variant" };
        var cmd = new Command("eval", "Evaluate xCos and the plain cosine on one or more pair sets with the 10-fold protocol");
        model.AddTo(cmd);
        real.AddTo(cmd);
        foreach (var o in new Option[] { pairs, config, root, aligned, flip, maxPairs, report, json, scoresFile }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var files = (p.GetValue(pairs) ?? []).ToList();
            if (p.GetValue(config) is { } cfg)
            {
                if (!cfg.Exists) throw new CliException($"{cfg.FullName}: config file not found.", ExitCodes.Usage);
                OriginalConfig recipe;
                try { recipe = OriginalConfig.Load(cfg.FullName); }
                catch (InvalidDataException e) { throw new CliException(e.Message, ExitCodes.Usage); }
                if (recipe.Warning is { } warning) Console.Error.WriteLine("warning: " + warning);
                if (recipe.TestSets.Count == 0) throw new CliException($"{cfg.FullName}: no test_data_loaders to evaluate.", ExitCodes.Usage);
                files.AddRange(recipe.TestSets.Select(f => new FileInfo(f)));
            }
            if (files.Count == 0) throw new CliException("give --pairs FILE (one or more) or --config with test_data_loaders.", ExitCodes.Usage);
            foreach (var f in files)
                if (!f.Exists) throw new CliException($"{f.FullName}: pair file not found.");
            // fail before the scoring, not after it
            if (p.GetValue(scoresFile)?.Directory is { Exists: false } scoresDir)
                throw new CliException($"{p.GetValue(scoresFile)!.FullName}: cannot write the pair scores: folder {scoresDir.FullName} does not exist.");
            var scoreRows = new List<PairScoreRow>();
            bool photos = p.GetValue(model.Checkpoint) is null;
            if (!photos) real.RejectInt8(p);
            bool isAligned = p.GetValue(aligned), doFlip = p.GetValue(flip);
            // the detector (or verifier) stays open until the report has re-aligned the faces it shows
            using var verifier = photos ? real.CreateVerifier(p, null, p.GetValue(model.Threads) ?? 0) : null;
            using var detector = !isAligned ? (photos ? null : real.CreateDetector(p)) : null;
            var (m, _) = photos ? (null, null) : model.Load(p);
            using var _m = m;
            var results = new List<(FileInfo File, EvalJson Json, BenchmarkRow Row)>();
            foreach (var file in files)
            {
                var set = PairSetReader.Load(file.FullName, p.GetValue(root)?.FullName);
                int n = Math.Min(set.Count, p.GetValue(maxPairs) ?? int.MaxValue);
                var skipped = new List<SkippedJson>();
                var (scored, cosineSource) = photos
                    ? ScorePhotos(verifier!, set, n, skipped, isAligned, doFlip)
                    : ScoreCheckpoint(m!, set, n, detector, skipped, doFlip);
                if (scored.Count < 2 || scored.All(s => s.Pair.Same) || scored.All(s => !s.Pair.Same))
                    throw new CliException($"{file.FullName}: {scored.Count} of {n} pairs could be scored; the metrics need both same and different pairs (skipped: {skipped.Count}){SkipReasons(skipped, set, detector is not null)}.");
                scoreRows.AddRange(scored.Select(s => (s.Row, new PairScoreRow(s.Pair.Id1, s.Pair.Id2, s.Pair.Same, s.Xcos, s.Cosine, "ok")))
                    .Concat(skipped.Select(k => (k.Row, new PairScoreRow(k.Id1, k.Id2, set.Pairs[k.Row].Same, null, null, k.Reason.ReplaceLineEndings(" ").Replace('\t', ' ')))))
                    .OrderBy(t => t.Row).Select(t => t.Item2));
                var same = scored.Select(s => s.Pair.Same).ToArray();
                // the protocol's 10 folds, fewer only for a set too small to split that way
                var protocol = new VerificationOptions { Folds = Math.Min(10, scored.Count) };
                var xr = VerificationMetrics.Evaluate(scored.Select(s => s.Xcos).ToArray(), same, protocol);
                var cr = VerificationMetrics.Evaluate(scored.Select(s => s.Cosine).ToArray(), same, protocol);
                string? reportPath = null;
                if (p.GetValue(report) is { } dir)
                {
                    Func<string, RgbImage?> face = photos && !isAligned
                        ? id => verifier!.Analyse(ImageIO.Load(set.ReadImage(id), name: id), id).Aligned
                        : id => LoadFace(set, id, detector).Face;
                    string reportDir = files.Count == 1 ? dir.FullName : Path.Combine(dir.FullName, Path.GetFileNameWithoutExtension(file.Name));
                    reportPath = ReportWriter.Write(reportDir, file.Name, scored, face, xr, cr, cosineSource, protocol);
                }
                results.Add((file, new EvalJson(n, skipped.Count, MetricsJson.From(xr), MetricsJson.From(cr), cosineSource, skipped.ToArray(), reportPath),
                    new BenchmarkRow(Path.GetFileNameWithoutExtension(file.Name), file.FullName, scored.Count, skipped.Count, xr, cr)));
            }
            if (p.GetValue(scoresFile) is { } sf)
            {
                string variant = photos ? verifier!.XcosVariant : "checkpoint";
                try { PairScoresFile.Write(sf.FullName, variant, scoreRows); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{sf.FullName}: cannot write the pair scores: {e.Message}"); }
            }
            if (results.Count == 1 && !doFlip && p.GetValue(config) is null)
            {
                var (file, result, row) = results[0];
                var (xr, cr, skipped) = (row.Xcos, row.Cosine, result.SkippedRows);
                if (p.GetValue(json)) Cli.WriteJson(result);
                else
                {
                    Console.WriteLine($"{file.Name}: {row.Pairs} pairs scored, {skipped.Length} skipped");
                    Console.WriteLine($"  xCos             AUC {xr.Auc:F4}  10-fold accuracy {xr.AccuracyMean:F4} ± {xr.AccuracyStd:F4}  EER {xr.Eer:F4}  TAR@FAR1e-3 {xr.TarAtFar1e3:F4}");
                    Console.WriteLine($"  cosine ({result.CosineSource,-6}) AUC {cr.Auc:F4}  10-fold accuracy {cr.AccuracyMean:F4} ± {cr.AccuracyStd:F4}  EER {cr.Eer:F4}  TAR@FAR1e-3 {cr.TarAtFar1e3:F4}");
                    foreach (var s in skipped.Take(10)) Console.WriteLine($"  skipped {(file.Extension.Equals(".bin", StringComparison.OrdinalIgnoreCase) ? "pair" : "line")} {s.Row} ({s.Id1}, {s.Id2}): {s.Reason}");
                    if (result.Report is not null) Console.WriteLine($"report: {result.Report}");
                }
                return ExitCodes.Ok;
            }
            if (p.GetValue(json)) Cli.WriteJson(new BenchmarkJson(doFlip, results.Select(r => new SetJson(r.Row.DataSet, r.File.FullName, r.Json)).ToArray()));
            else
            {
                Console.Write(BenchmarkTable.Format(results.Select(r => r.Row).ToList(), doFlip));
                foreach (var r in results.Where(r => r.Json.Report is not null)) Console.WriteLine($"report ({r.Row.DataSet}): {r.Json.Report}");
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

    private static (List<Scored>, string) ScoreCheckpoint(Xcos.ML.Torch.Networks.XcosModel m, PairSet set, int n, FaceDetector? detector, List<SkippedJson> skipped, bool flip)
    {
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
                var scores = XcosScorer.Score(m, batch.Select(x => (x.A, x.B)).ToList(), flip: flip);
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

    private static (List<Scored>, string) ScorePhotos(RealFaceVerifier verifier, PairSet set, int n, List<SkippedJson> skipped, bool isAligned, bool flip)
    {
        // Each distinct image is read, aligned and embedded once per run, however many pairs use it.
        var cache = new EmbeddingCache<(FaceEmbedding? Embedding, string Status)>();
        (FaceEmbedding? Embedding, string Status) Embed(string id)
        {
            try
            {
                return cache.GetOrAdd(id, () => set.ReadImage(id), bytes =>
                {
                    try
                    {
                        var image = ImageIO.Load(bytes, name: id);
                        int side = verifier.Descriptor.InputSize;
                        if (isAligned && (image.Width != side || image.Height != side))
                            return (null, $"{id}: --aligned expects a {side}x{side} face, got {image.Width}x{image.Height}");
                        var aligned = isAligned ? image : verifier.Analyse(image, id).Aligned;
                        if (aligned is null) return (null, $"{id}: no face found");
                        if (!flip) return (verifier.Embedder.Embed([aligned])[0], "ok");
                        var both = verifier.Embedder.Embed([aligned, PhotoAugmentation.FlipHorizontal(aligned)]);
                        return (FlipEmbedding.Combine(both[0], both[1], verifier.Embedder.MapShape), "ok");
                    }
                    catch (Exception e) when (e is InvalidDataException or ArgumentException)
                    {
                        return (null, e.Message);
                    }
                });
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
        Console.Error.WriteLine($"eval: {cache.Misses} distinct images detected and embedded for {n} pairs ({cache.Hits} reused)");
        return (result, "model");
    }
}
