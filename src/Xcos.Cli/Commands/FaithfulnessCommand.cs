using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using Xcos.ML.Data;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Explain;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// <c>xcos faithfulness</c>: deletion and insertion AUCs of xCos contributions, Grad-CAM of the plain cosine and a random
/// order over a pair set, with a TorchSharp checkpoint; optionally the occlusion-robustness curve. Without
/// <c>--checkpoint</c> it measures the real ONNX face model instead (photos detected, aligned and augmented; see
/// <see cref="RealFaceFaithfulness"/>).
/// </summary>
public static class FaithfulnessCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var pairs = new Option<FileInfo>("--pairs") { Description = "Pair file: InsightFace .bin, LFW pairs.txt or TSV 'file1<TAB>file2<TAB>same' of aligned 112x112 faces; without --checkpoint a TSV of photos.", Required = true };
        var checkpoint = new Option<FileInfo?>("--checkpoint") { Description = "xCos checkpoint (.pth, PyTorch or saved by xcos). Omit to measure the real ONNX face model on photos." };
        var models = new Option<DirectoryInfo?>("--models") { Description = "Real-photo mode: models folder (default: $XCOS_MODELS, else the user's data folder)." };
        var noAugment = new Option<bool>("--no-augment") { Description = "Real-photo mode: align without augmentation (same-photo pairs become identical)." };
        var curvePlot = new Option<FileInfo?>("--curve-plot") { Description = "Write the mean deletion curves of the explained score (one line per method) to this PNG." };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Image root of pairs.txt / TSV files (default: the pair file's folder)." };
        var arch = new Option<string>("--arch") { Description = "Grid backbone: ir, ir_se (optionally with depth, e.g. ir_se50) or mobilefacenet.", DefaultValueFactory = _ => "ir_se" };
        var depth = new Option<int?>("--depth") { Description = "IR/IR-SE preset depth (18, 34, 50, 100, 152); default 50." };
        var stages = new Option<string?>("--stages") { Description = "Explicit stage table, e.g. 1,1,1,1 (overrides --depth)." };
        var targetArch = new Option<string?>("--target-arch") { Description = "Frozen target backbone of the checkpoint (ir, ir_se, mobilefacenet); omit when it has none." };
        var maxPairs = new Option<int?>("--max-pairs") { Description = "Use only the first N pairs." };
        var perStep = new Option<int>("--patches-per-step") { Description = "Grid cells perturbed per step (1 = 49 steps).", DefaultValueFactory = _ => 1 };
        var seeds = new Option<int>("--random-orders") { Description = "Random orders averaged into the random baseline.", DefaultValueFactory = _ => 3 };
        var seed = new Option<int>("--seed") { Description = "First seed of the random orders and occlusion masks.", DefaultValueFactory = _ => 0 };
        var fill = new Option<string>("--fill") { Description = "Deleted-patch fill: mean (the face's mean colour) or blur.", DefaultValueFactory = _ => "mean" };
        var face = new Option<int>("--face") { Description = "Which face of each pair is perturbed (1 or 2).", DefaultValueFactory = _ => 1 };
        var cosine = new Option<string>("--cosine") { Description = "Plain cosine explained by Grad-CAM and reported: grid (flattened grid embeddings) or target.", DefaultValueFactory = _ => "grid" };
        var occlusion = new Option<bool>("--occlusion") { Description = "Also run occlusion robustness (0, 5, 15, 25, 35 % blobs on face 2; 10-fold accuracy)." };
        var plot = new Option<FileInfo?>("--occlusion-plot") { Description = "Write the occlusion accuracy plot to this PNG (implies --occlusion)." };
        var threads = new Option<int?>("--threads") { Description = "Intra-op threads (default: all cores)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "cpu" };
        var batch = new Option<int>("--batch-size") { Description = "Faces per forward pass.", DefaultValueFactory = _ => 64 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };

        var command = new Command("faithfulness", "Measure how faithful xCos and Grad-CAM explanations are (deletion/insertion AUCs against a random order).");
        foreach (var o in new Option[] { pairs, checkpoint, models, noAugment, curvePlot, root, arch, depth, stages, targetArch, maxPairs, perStep, seeds, seed, fill, face, cosine, occlusion, plot, threads, device, batch, json })
            command.Options.Add(o);

        command.SetAction(parse =>
        {
            var patchFill = parse.GetValue(fill)!.Trim().ToLowerInvariant() switch
            {
                "mean" or "meancolor" or "mean-color" => PatchFill.MeanColor,
                "blur" => PatchFill.Blur,
                var v => throw new ArgumentException($"--fill must be mean or blur, got '{v}'"),
            };
            int? limit = parse.GetValue(maxPairs);
            if (limit is < 1) throw new ArgumentException($"--max-pairs must be positive, got {limit}");
            var curves = new FaithfulnessOptions
            {
                PatchesPerStep = parse.GetValue(perStep), RandomOrders = parse.GetValue(seeds), Seed = parse.GetValue(seed),
                Fill = patchFill, Face = parse.GetValue(face),
            };
            var plotFile = parse.GetValue(plot);
            bool runOcclusion = parse.GetValue(occlusion) || plotFile is not null;
            var occlusionOptions = (int n) => new OcclusionOptions { Seed = parse.GetValue(seed), Verification = new Xcos.ML.Metrics.VerificationOptions { Folds = Math.Min(10, n) } };

            FaithfulnessReport report;
            FaithfulnessSummary summary;
            if (parse.GetValue(checkpoint) is not { } ckptFile)
            {
                // Real-photo mode: the ONNX face model; the explained score is its embedding cosine (what decides).
                var threadCount = parse.GetValue(threads) ?? 0;
                using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = parse.GetValue(models)?.FullName, IntraOpThreads = threadCount });
                var options = new RealFaceFaithfulnessOptions { Curves = curves, BatchSize = parse.GetValue(batch), Augmentation = parse.GetValue(noAugment) ? null : new FaceAugmentationOptions() };
                var set = RealFaceFaithfulness.LoadPairs(verifier, parse.GetValue(pairs)!.FullName, parse.GetValue(root)?.FullName, options);
                int n = Math.Min(set.Count, limit ?? int.MaxValue);
                var faces = set.Faces.Take(n).ToArray();
                var labels = set.Labels.Take(n).ToArray();
                var started = DateTime.UtcNow;
                var results = RealFaceFaithfulness.EvaluatePairs(verifier, faces, options);
                var seconds = (DateTime.UtcNow - started).TotalSeconds;
                OcclusionResult? occ = null;
                if (runOcclusion)
                {
                    occ = OcclusionRobustness.Evaluate(new RealFacePairScorer(verifier.Embedder, verifier.Xcos, options.BatchSize),
                        faces.Select(f => f.Face1).ToArray(), faces.Select(f => f.Face2).ToArray(), labels, occlusionOptions(n));
                    if (plotFile is not null) occ.SavePlot(plotFile.FullName);
                }
                summary = FaithfulnessSummary.From(results);
                report = Report(summary, results, labels, RealFaceFaithfulness.CosineScore, curves, "model", Path.Combine(verifier.ModelsDir, verifier.Descriptor.OnnxFile), set.Source, seconds, occ) with
                {
                    Mode = "photos", Augmented = options.Augmentation is not null,
                };
            }
            else
            {
                var dev = TorchRuntime.Configure(parse.GetValue(threads), parse.GetValue(device)!);
                var modelOptions = new XcosModelOptions
                {
                    Arch = parse.GetValue(arch)!,
                    Depth = parse.GetValue(depth) ?? 50,
                    Stages = ParseStages(parse.GetValue(stages)),
                    TargetArch = parse.GetValue(targetArch),
                };
                var cosineSource = parse.GetValue(cosine)!.Trim().ToLowerInvariant() switch
                {
                    "grid" => CosineSource.Grid,
                    "target" => CosineSource.Target,
                    var v => throw new ArgumentException($"--cosine must be grid or target, got '{v}'"),
                };
                using var model = new XcosModel(modelOptions);
                var ckpt = ckptFile.FullName;
                try { XcosCheckpoint.Load(model, ckpt); }
                catch (CheckpointException e) { throw new InvalidDataException(e.Message + " (check --arch/--depth/--stages/--target-arch)", e); }
                model.to(dev);
                model.eval();

                var set = PairSetReader.Load(parse.GetValue(pairs)!.FullName, parse.GetValue(root)?.FullName);
                int n = Math.Min(set.Count, limit ?? int.MaxValue);
                var faces = new List<(RgbImage, RgbImage)>(n);
                for (int i = 0; i < n; i++)
                {
                    var (b1, b2) = set.ReadPair(i);
                    faces.Add((LoadFace(set, i, set.Pairs[i].Id1, b1), LoadFace(set, i, set.Pairs[i].Id2, b2)));
                }
                var labels = set.Labels.Take(n).ToArray();
                var options = new XcosFaithfulnessOptions
                {
                    Curves = curves,
                    Scorer = new XcosModelPairScorerOptions { BatchSize = parse.GetValue(batch), Cosine = cosineSource, Device = dev },
                };
                var started = DateTime.UtcNow;
                var results = faces.Select(f => XcosFaithfulness.Evaluate(model, f.Item1, f.Item2, options)).ToArray();
                var seconds = (DateTime.UtcNow - started).TotalSeconds;

                OcclusionResult? occ = null;
                if (runOcclusion)
                {
                    occ = OcclusionRobustness.Evaluate(new XcosModelPairScorer(model, options.Scorer),
                        faces.Select(f => f.Item1).ToArray(), faces.Select(f => f.Item2).ToArray(), labels, occlusionOptions(n));
                    if (plotFile is not null) occ.SavePlot(plotFile.FullName);
                }
                summary = FaithfulnessSummary.From(results);
                report = Report(summary, results, labels, "xcos", curves, cosineSource == CosineSource.Grid ? "grid" : "target", ckpt, set.Source, seconds, occ) with
                {
                    Mode = "checkpoint",
                };
            }

            if (parse.GetValue(curvePlot) is { } cp)
                FaithfulnessCurvePlot.Save(cp.FullName, summary, FaithfulnessKind.Deletion, report.Score,
                    new LinePlotOptions
                    {
                        Title = string.Create(CultureInfo.InvariantCulture, $"Deletion of face {curves.Face}'s cells: {report.Score} ({summary.Pairs} pairs, {report.Mode})"),
                        XLabel = "fraction of cells deleted (most important first)", YLabel = $"mean {report.Score}", LegendBottomRight = false, XMin = 0, XMax = 1,
                    });
            if (parse.GetValue(json))
                Console.Out.WriteLine(JsonSerializer.Serialize(report, JsonOptions));
            else
                WriteTable(report);
            return 0;
        });
        return command;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private static RgbImage LoadFace(PairSet set, int pair, string id, byte[] bytes)
    {
        var img = ImageIO.Load(bytes, name: id);
        if (img.Width != 112 || img.Height != 112)
            throw new InvalidDataException($"{set.Source}: pair {pair}, image '{id}' is {img.Width}x{img.Height}; faithfulness needs aligned 112x112 faces.");
        return img;
    }

    private static IReadOnlyList<int>? ParseStages(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        var r = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out r[i]) || r[i] < 1)
                throw new ArgumentException($"--stages must be four positive integers such as 1,1,1,1; got '{s}'");
        if (r.Length != 4) throw new ArgumentException($"--stages must have four entries, got {r.Length} in '{s}'");
        return r;
    }

    /// <summary>The JSON shape: per method, deletion and insertion AUCs of the xCos score and of the plain cosine.</summary>
    internal sealed record MethodAucs(double Deletion, double Insertion, double DeletionCosine, double InsertionCosine);

    /// <summary>Mean AUCs with their spread over pairs (population standard deviation) of one method and score.</summary>
    internal sealed record ScoreAucs(double Deletion, double DeletionStd, double Insertion, double InsertionStd);

    internal sealed record FaithfulnessReport(
        int Pairs, string Score, string Fill, int Face, int PatchesPerStep, int RandomOrders, string Cosine,
        IReadOnlyDictionary<string, MethodAucs> Methods, string Checkpoint, string PairFile, double Seconds, OcclusionResult? Occlusion)
    {
        /// <summary>"checkpoint" (TorchSharp xCos model) or "photos" (real ONNX face model).</summary>
        public string? Mode { get; init; }
        /// <summary>Real-photo mode: whether both faces of each pair were augmented.</summary>
        public bool? Augmented { get; init; }
        /// <summary>Same and different pairs measured.</summary>
        public int? SamePairs { get; init; }
        /// <summary>Different pairs measured.</summary>
        public int? DifferentPairs { get; init; }
        /// <summary>method -> score -> AUCs, all pairs.</summary>
        public IReadOnlyDictionary<string, IReadOnlyDictionary<string, ScoreAucs>>? Aucs { get; init; }
        /// <summary>"same" / "different" -> method -> score -> AUCs.</summary>
        public IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyDictionary<string, ScoreAucs>>>? ByLabel { get; init; }
    }

    private static IReadOnlyDictionary<string, IReadOnlyDictionary<string, ScoreAucs>> Aucs(FaithfulnessSummary s)
        => s.Methods.ToDictionary(m => m, m => (IReadOnlyDictionary<string, ScoreAucs>)s.Rows.Where(r => r.Method == m).Select(r => r.ScoreName).Distinct()
            .ToDictionary(score => score, score =>
            {
                var d = s.Rows.FirstOrDefault(r => r.Method == m && r.ScoreName == score && r.Kind == FaithfulnessKind.Deletion);
                var i = s.Rows.FirstOrDefault(r => r.Method == m && r.ScoreName == score && r.Kind == FaithfulnessKind.Insertion);
                return new ScoreAucs(d?.Auc ?? double.NaN, d?.AucStd ?? double.NaN, i?.Auc ?? double.NaN, i?.AucStd ?? double.NaN);
            }));

    private static FaithfulnessReport Report(FaithfulnessSummary s, IReadOnlyList<FaithfulnessPairResult> results, IReadOnlyList<bool> labels,
        string explained, FaithfulnessOptions o, string cosine, string checkpoint, string pairFile, double seconds, OcclusionResult? occ)
    {
        var methods = s.Methods.ToDictionary(m => m, m => new MethodAucs(
            s.Auc(m, FaithfulnessKind.Deletion, "xcos"), s.Auc(m, FaithfulnessKind.Insertion, "xcos"),
            s.Auc(m, FaithfulnessKind.Deletion, "cosine"), s.Auc(m, FaithfulnessKind.Insertion, "cosine")));
        var byLabel = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyDictionary<string, ScoreAucs>>>();
        foreach (var (name, value) in new[] { ("same", true), ("different", false) })
        {
            var part = results.Where((_, i) => labels[i] == value).ToArray();
            if (part.Length > 0) byLabel[name] = Aucs(FaithfulnessSummary.From(part));
        }
        return new FaithfulnessReport(s.Pairs, explained, o.Fill == PatchFill.MeanColor ? "mean" : "blur", o.Face,
            o.PatchesPerStep, o.RandomOrders, cosine, methods, checkpoint, pairFile, Math.Round(seconds, 2), occ)
        {
            SamePairs = labels.Count(l => l), DifferentPairs = labels.Count(l => !l), Aucs = Aucs(s), ByLabel = byLabel,
        };
    }

    private static void WriteTable(FaithfulnessReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.Out.WriteLine(string.Create(inv, $"{r.Pairs} pairs ({r.SamePairs} same, {r.DifferentPairs} different), {r.Mode}, explained score {r.Score}; face {r.Face} perturbed, fill {r.Fill}, {r.PatchesPerStep} patch(es) per step; deletion: lower is more faithful, insertion: higher."));
        Console.Out.WriteLine(string.Create(inv, $"{"method",-13} {"del xCos",9} {"ins xCos",9} {"del cos",9} {"ins cos",9}"));
        foreach (var (m, a) in r.Methods)
            Console.Out.WriteLine(string.Create(inv, $"{m,-13} {a.Deletion,9:0.0000} {a.Insertion,9:0.0000} {a.DeletionCosine,9:0.0000} {a.InsertionCosine,9:0.0000}"));
        if (r.Occlusion is { } occ)
        {
            Console.Out.WriteLine("occlusion (10-fold accuracy):");
            for (int l = 0; l < occ.Levels.Length; l++)
                Console.Out.WriteLine(string.Create(inv, $"  {occ.Levels[l] * 100,5:0.#} %  ") +
                    string.Join("  ", occ.Series.Select(s => string.Create(inv, $"{s.ScoreName} {s.AccuracyMean[l]:0.0000}"))));
        }
    }
}
