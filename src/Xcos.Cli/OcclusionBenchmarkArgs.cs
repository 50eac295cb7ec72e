using System.CommandLine;
using System.Globalization;
using System.Text;
using Xcos.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Figures;
using Xcos.ML.Gallery;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.Cli;

/// <summary>Options and run of the occlusion benchmark of `xcos occlusion --faces/--photos` (<see cref="OcclusionBenchmark"/>).</summary>
internal sealed class OcclusionBenchmarkArgs
{
    public readonly Option<DirectoryInfo?> Faces = new("--faces") { Description = "Benchmark: folder of aligned 112x112 crops, one subfolder per person (e.g. ../shared/celeb-faces)" };
    public readonly Option<DirectoryInfo?> Photos = new("--photos") { Description = "Benchmark: folder of raw photos, one subfolder per person (e.g. ../shared/dev-faces/photos), aligned by fr_detect + fr_landmark" };
    public readonly Option<string?> People = new("--people") { Description = "Benchmark: only these people of --faces/--photos (comma-separated names; default: all not excluded)" };
    public readonly Option<string?> Exclude = new("--exclude") { Description = "Benchmark: people never paired or probed (comma-separated; e.g. those the model was fitted on); one photo of each joins the 1:N gallery as a distractor" };
    public readonly Option<int> MaxPerPerson = new("--max-per-person") { Description = "Benchmark: photos read per person (the first by name)", DefaultValueFactory = _ => 40 };
    public readonly Option<int> PairCount = new("--pair-count") { Description = "Benchmark: 1:1 pairs, half same-person", DefaultValueFactory = _ => 3000 };
    public readonly Option<int> ProbesPerPerson = new("--probes-per-person") { Description = "Benchmark: 1:N probes per person (its other photos, occluded)", DefaultValueFactory = _ => 20 };
    public readonly Option<string> Original = new("--original") { Description = "Benchmark: the model whose cosine is the baseline", DefaultValueFactory = _ => "fr_feature" };
    public readonly Option<DirectoryInfo?> Out = new("--out") { Description = "Benchmark: write occlusion.json, occlusion.png (the plot) and occluded_pair.png (the explanation of a masked pair) here" };
    public readonly Option<bool> Json = new("--json") { Description = "Benchmark: print the result as one JSON object instead of a table" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Faces, Photos, People, Exclude, MaxPerPerson, PairCount, ProbesPerPerson, Original, Out, Json }) command.Options.Add(o);
    }

    private static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true };

    public bool Given(ParseResult p) => p.GetValue(Faces) is not null || p.GetValue(Photos) is not null;

    public int Run(ParseResult p, string model, DirectoryInfo? modelsDir, FileInfo? learnedHead, int seed, int? threads, FileInfo? plot)
    {
        if (p.GetValue(MaxPerPerson) < 2) throw new CliException("--max-per-person must be at least 2 (pairs and probes need two photos of a person).", ExitCodes.Usage);
        var only = Names(p.GetValue(People));
        var excluded = Names(p.GetValue(Exclude));
        string modelPath = RealFaceArgs.ResolveModel(model, "--model"), originalPath = RealFaceArgs.ResolveModel(p.GetValue(Original)!, "--original");
        var dir = modelsDir?.FullName;
        int t = threads ?? 0;
        OnnxFaceEncoder encoder;
        try { encoder = new OnnxFaceEncoder(dir, modelPath, t, needDetector: false, XcosVariant.Learned, learnedHead?.FullName); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException) { throw new CliException(e.Message); }
        using var _e = encoder;
        using var original = OpenEmbedder(dir, originalPath, t);

        var faces = new List<RgbImage>();
        var labels = new List<int>();
        var names = new List<string>();
        var distractors = new List<(string, RgbImage)>();
        var files = new List<string>();
        int per = p.GetValue(MaxPerPerson);
        if (p.GetValue(Faces) is { } crops) Read(crops, per, only, excluded, faces, labels, names, distractors, null, files);
        if (p.GetValue(Photos) is { } photos)
        {
            var models = ModelStore.ResolveDirectory(dir);
            using var detector = FaceDetector.FromDirectory(models, new FaceDetectorOptions { IntraOpThreads = t });
            Read(photos, per, only, excluded, faces, labels, names, distractors, detector, files);
        }
        // every name given must be someone: a typo would silently change who is measured
        var known = new[] { p.GetValue(Faces), p.GetValue(Photos) }.OfType<DirectoryInfo>().Where(d => d.Exists)
            .SelectMany(d => d.GetDirectories().Select(x => x.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (var n in (only ?? []).Concat(excluded ?? []))
            if (!known.Contains(n)) throw new CliException($"'{n}' is not a person of --faces/--photos (people: {string.Join(", ", known.Order(StringComparer.Ordinal))}).", ExitCodes.Usage);
        if (names.Count < 2) throw new CliException($"the benchmark needs at least two people with two usable photos each; found {names.Count} ({string.Join(", ", names)}).");
        var options = new OcclusionBenchmarkOptions { Pairs = p.GetValue(PairCount), ProbesPerPerson = p.GetValue(ProbesPerPerson), Seed = seed };
        var galleryFile = Path.Combine(Path.GetTempPath(), $"xcos-occlusion-{Guid.NewGuid():N}.gallery");
        var started = DateTime.UtcNow;
        var r = OcclusionBenchmark.Run(original, encoder, faces, labels, names, distractors, galleryFile, options, msg => Console.Error.WriteLine($"[{(DateTime.UtcNow - started).TotalSeconds,6:F0} s] {msg}"));
        var report = new
        {
            model = encoder.Descriptor.Name, model_descriptor = modelPath, learned_head = encoder.Learned!.Source, original = original.Descriptor.Name,
            people = names, distractors = distractors.Select(d => d.Item1).ToArray(), faces = faces.Count, pairs = r.Pairs, same_pairs = r.SamePairs,
            gallery_identities = r.GalleryIdentities, seed = r.Seed, seconds = Math.Round((DateTime.UtcNow - started).TotalSeconds, 1),
            conditions = r.Conditions.Select(c => new
            {
                condition = c.Name,
                cosine = new { auc = c.Cosine.Auc, accuracy = c.Cosine.Accuracy, accuracy_std = c.Cosine.AccuracyStd, tar_at_far_1e3 = c.Cosine.TarAtFar1e3 },
                xcos = new { auc = c.Xcos.Auc, accuracy = c.Xcos.Accuracy, accuracy_std = c.Xcos.AccuracyStd, tar_at_far_1e3 = c.Xcos.TarAtFar1e3 },
                identification = new
                {
                    probes = c.Identification.Probes, rank1_cosine = c.Identification.Rank1Cosine, rank1_reranked = c.Identification.Rank1Reranked,
                    rank5_cosine = c.Identification.Rank5Cosine, rank5_reranked = c.Identification.Rank5Reranked,
                },
            }).ToArray(),
            rerank_ms = new { candidates = r.Rerank.Candidates, probes = r.Rerank.Probes, p50 = r.Rerank.P50, p99 = r.Rerank.P99, mean = r.Rerank.Mean },
        };
        var outDir = p.GetValue(Out);
        if (outDir is not null)
        {
            Directory.CreateDirectory(outDir.FullName);
            File.WriteAllText(Path.Combine(outDir.FullName, "occlusion.json"), System.Text.Json.JsonSerializer.Serialize(report, Indented) + "\n");
            WriteScores(outDir.FullName, r, files);
        }
        var png = plot?.FullName ?? (outDir is null ? null : Path.Combine(outDir.FullName, "occlusion.png"));
        if (png is not null) SavePlot(png, r, encoder.Descriptor.Name);
        if (outDir is not null && r.Example is { } ex)
        {
            var (_, threshold) = encoder.Descriptor.Decision(learnedHead: true);
            ExplanationFigure.Save(Path.Combine(outDir.FullName, "occluded_pair.png"), new ExplanationInput
            {
                Face1Rgb = ex.Face1.Pixels, Face2Rgb = ex.Face2.Pixels, CosMap = ex.Explanation.CosMap, Attention = ex.Explanation.Attention, CosMapTitle = encoder.Learned!.MapTitle,
                Score = ex.Explanation.Xcos, Cosine = ex.Cosine, Threshold = encoder.Descriptor.DecidesByXcos ? threshold : double.NaN,
                // a gated head says how much of the score is the original cosine's (0.15 when the mask makes the branches disagree)
                Title = $"{encoder.Descriptor.Name}, learned xCos: one person, face 2 in a surgical-mask shape"
                    + (ex.Explanation.CosineShare is { } share ? string.Create(CultureInfo.InvariantCulture, $" (cosine's share {share:0.00})") : ""),
                Face1Label = "clean", Face2Label = "masked",
            });
        }
        if (p.GetValue(Json)) Cli.WriteJson(report, Cli.JsonDeclaredNames);
        else Console.WriteLine(Table(r, encoder.Descriptor.Name, original.Descriptor.Name));
        return ExitCodes.Ok;
    }

    /// <summary>The result as a Markdown table (the docs' form).</summary>
    public static string Table(OcclusionBenchmarkResult r, string model, string original)
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.AppendLine(ci, $"{r.Pairs} pairs ({r.SamePairs} same-person) of {r.People} people; 1:N gallery of {r.GalleryIdentities} identities, one photo each; face 2 / the probe occluded");
        sb.AppendLine(ci, $"| condition | AUC {original} cosine | AUC {model} xCos | 10-fold acc. cosine | 10-fold acc. xCos | TAR@FAR=1e-3 cosine | TAR@FAR=1e-3 xCos | rank-1 cosine | rank-1 re-ranked |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var c in r.Conditions)
            sb.AppendLine(ci, $"| {c.Name} | {c.Cosine.Auc:F4} | {c.Xcos.Auc:F4} | {c.Cosine.Accuracy:P2} | {c.Xcos.Accuracy:P2} | {c.Cosine.TarAtFar1e3:F4} | {c.Xcos.TarAtFar1e3:F4} | {c.Identification.Rank1Cosine:F4} | {c.Identification.Rank1Reranked:F4} |");
        sb.Append(ci, $"re-ranking {r.Rerank.Candidates} candidates in one head call: p50 {r.Rerank.P50:F2} ms, p99 {r.Rerank.P99:F2} ms per probe ({r.Rerank.Probes} probes)");
        return sb.ToString();
    }

    // Every pair's and every probe's scores, so other orders (say, a blend of the two scores) can be measured without a rerun.
    private static void WriteScores(string dir, OcclusionBenchmarkResult r, IReadOnlyList<string> files)
    {
        var ci = CultureInfo.InvariantCulture;
        var pairs = new StringBuilder("condition\tfile1\tfile2\tsame\tcosine\txcos\n");
        var probes = new StringBuilder("condition\tprobe\ttruth\tcosine_rank\tidentity\tcosine\txcos\n");
        foreach (var c in r.Conditions)
        {
            for (int i = 0; i < c.PairScores.Count; i++)
            {
                var (a, b) = r.PairFaces[i];
                var s = c.PairScores[i];
                pairs.Append(ci, $"{c.Name}\t{files[a]}\t{files[b]}\t{(s.Same ? 1 : 0)}\t{s.Cosine:R}\t{s.Xcos:R}\n");
            }
            foreach (var p in c.ProbeShortlists)
                for (int k = 0; k < p.Shortlist.Count; k++)
                    probes.Append(ci, $"{c.Name}\t{files[p.Face]}\t{p.Truth}\t{k + 1}\t{p.Shortlist[k].Identity}\t{p.Shortlist[k].Cosine:R}\t{p.Shortlist[k].Xcos:R}\n");
        }
        File.WriteAllText(Path.Combine(dir, "pairs.tsv"), pairs.ToString());
        File.WriteAllText(Path.Combine(dir, "probes.tsv"), probes.ToString());
    }

    private static void SavePlot(string path, OcclusionBenchmarkResult r, string model)
    {
        double[] x = [.. Enumerable.Range(0, r.Conditions.Count).Select(i => (double)i)];
        PlotSeries S(string name, Func<OcclusionConditionResult, double> f) => new(name, x, [.. r.Conditions.Select(f)]);
        var bytes = LinePlot.RenderPng(
        [
            S("1:1 AUC, original cosine", c => c.Cosine.Auc), S($"1:1 AUC, {model} learned xCos", c => c.Xcos.Auc),
            S("1:1 10-fold acc., original cosine", c => c.Cosine.Accuracy), S($"1:1 10-fold acc., {model} learned xCos", c => c.Xcos.Accuracy),
            S("1:N rank-1, cosine order", c => c.Identification.Rank1Cosine), S("1:N rank-1, re-ranked by xCos", c => c.Identification.Rank1Reranked),
        ], new LinePlotOptions
        {
            Title = $"Occluded face 2 / probe: {r.Pairs} pairs, {r.People} people, gallery of {r.GalleryIdentities}",
            XLabel = "condition: 0 clean, 1 mask, 2 sunglasses, 3 blobs 25 %", YLabel = "AUC / accuracy / rank-1", LegendBottomRight = false,
        });
        var temp = path + $".{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    private static OnnxFaceEmbedder OpenEmbedder(string? modelsDir, string descriptorPath, int threads)
    {
        var d = FaceModelDescriptor.Load(descriptorPath);
        string onnx;
        try { onnx = d.OnnxPath(ModelStore.ResolveDirectory(modelsDir), descriptorPath); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException) { throw new CliException(e.Message); }
        return new OnnxFaceEmbedder(d, onnx, threads);
    }

    private static HashSet<string>? Names(string? list) =>
        list is null ? null : [.. list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];

    // Reads up to `per` photos of each person (first by name); excluded people give one distractor photo; a photo that
    // cannot be used is reported and skipped, a person left with fewer than two photos is dropped with a note.
    private static void Read(DirectoryInfo root, int per, HashSet<string>? only, HashSet<string>? excluded, List<RgbImage> faces, List<int> labels,
        List<string> names, List<(string, RgbImage)> distractors, FaceDetector? detector, List<string> files)
    {
        if (!root.Exists) throw new CliException($"{root.FullName}: folder not found.");
        var folder = ImageFolder.Load(root.FullName);
        for (int id = 0; id < folder.Identities.Count; id++)
        {
            string name = folder.Identities[id];
            bool isDistractor = excluded?.Contains(name) == true;
            if (!isDistractor && only is not null && !only.Contains(name)) continue;
            var got = new List<(RgbImage Face, string Path)>();
            foreach (var s in folder.Samples.Where(x => x.Label == id).OrderBy(x => x.Path, StringComparer.Ordinal))
            {
                if (got.Count == (isDistractor ? 1 : per)) break;
                RgbImage img;
                try { img = ImageIO.Load(s.Path); }
                catch (InvalidDataException e) { Console.Error.WriteLine($"skipped {s.Path}: {e.Message}"); continue; }
                if (detector is not null)
                {
                    var (_, face) = detector.DetectAndAlign(img);
                    if (face is null) { Console.Error.WriteLine($"skipped {s.Path}: no face found"); continue; }
                    img = face;
                }
                else if (img.Width != 112 || img.Height != 112) { Console.Error.WriteLine($"skipped {s.Path}: {img.Width}x{img.Height}, expected an aligned 112x112 face"); continue; }
                got.Add((img, s.Path));
            }
            if (isDistractor) { if (got.Count == 1) distractors.Add((name, got[0].Face)); continue; }
            if (got.Count < 2) { Console.Error.WriteLine($"left out {name}: {got.Count} usable photo(s), pairs and probes need two"); continue; }
            foreach (var (f, path) in got)
            {
                faces.Add(f);
                files.Add(path);
                labels.Add(names.Count);
            }
            names.Add(name);
        }
    }
}
