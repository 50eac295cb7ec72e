using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xcos.Cli.Benchmarks;
using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch.Explain;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// <c>xcos faithfulness</c>: deletion and insertion AUCs of xCos contributions, Grad-CAM of the plain cosine and a random
/// order over a pair set, with a TorchSharp checkpoint; optionally the occlusion-robustness curve. Without
/// <c>--checkpoint</c> it measures the real ONNX face model instead (photos detected, aligned and augmented; see
/// <see cref="RealFaceFaithfulness"/>). The model options are the ones every command shares.
/// </summary>
public static class FaithfulnessCommand
{
    /// <summary>The command's options besides the shared model options.</summary>
    private sealed class Args
    {
        public readonly ModelArgs Model = new();
        public readonly RealFaceArgs Real = new();
        public readonly Option<FileInfo> Pairs = new("--pairs") { Description = "Pair file: InsightFace .bin, LFW pairs.txt or TSV 'file1<TAB>file2<TAB>same' of aligned 112x112 faces; without --checkpoint a TSV of photos.", Required = true };
        public readonly Option<bool> NoAugment = new("--no-augment") { Description = "Real-photo mode: align without augmentation (same-photo pairs become identical)." };
        public readonly Option<FileInfo?> CurvePlot = new("--curve-plot") { Description = "Write the mean deletion curves of the explained score (one line per method) to this PNG." };
        public readonly Option<DirectoryInfo?> Root = new("--root") { Description = "Image root of pairs.txt / TSV files (default: the pair file's folder)." };
        public readonly Option<int?> MaxPairs = new("--max-pairs") { Description = "Use only the first N pairs." };
        public readonly Option<int> PerStep = new("--patches-per-step") { Description = "Grid cells perturbed per step (1 = 49 steps).", DefaultValueFactory = _ => 1 };
        public readonly Option<int> RandomOrders = new("--random-orders") { Description = "Random orders averaged into the random baseline.", DefaultValueFactory = _ => 3 };
        public readonly Option<int> Seed = new("--seed") { Description = "First seed of the random orders and occlusion masks.", DefaultValueFactory = _ => 0 };
        public readonly Option<string> Fill = new("--fill") { Description = "Deleted-patch fill: mean (the face's mean colour) or blur.", DefaultValueFactory = _ => "mean" };
        public readonly Option<int> Face = new("--face") { Description = "Which face of each pair is perturbed (1 or 2).", DefaultValueFactory = _ => 1 };
        public readonly Option<string> Cosine = new("--cosine") { Description = "Checkpoint mode: plain cosine explained by Grad-CAM and reported: grid (flattened grid embeddings) or target.", DefaultValueFactory = _ => "grid" };
        public readonly Option<bool> Occlusion = new("--occlusion") { Description = "Also run occlusion robustness (0, 5, 15, 25, 35 % blobs on face 2; 10-fold accuracy)." };
        public readonly Option<FileInfo?> OcclusionPlot = new("--occlusion-plot") { Description = "Write the occlusion accuracy plot to this PNG (implies --occlusion)." };
        public readonly Option<int> Batch = new("--batch-size") { Description = "Faces per forward pass.", DefaultValueFactory = _ => 64 };
        public readonly Option<bool> Json = new("--json") { Description = "Print one JSON object instead of a table." };

        public void AddTo(Command command)
        {
            Model.AddTo(command);
            command.Options.Add(Real.Model);
            command.Options.Add(Real.ModelsDir);
            foreach (var o in new Option[] { Pairs, NoAugment, CurvePlot, Root, MaxPairs, PerStep, RandomOrders, Seed, Fill, Face, Cosine, Occlusion, OcclusionPlot, Batch, Json })
                command.Options.Add(o);
        }
    }

    /// <summary>What one run measured: the summary the plots draw and the report printed.</summary>
    private sealed record Measured(FaithfulnessSummary Summary, FaithfulnessReport Report);

    /// <summary>The <c>faithfulness</c> command: deletion/insertion curves of each explanation method on a pair file, printed as a table or JSON, with optional plots.</summary>
    public static Command Create()
    {
        var args = new Args();
        var command = new Command("faithfulness", "Measure how faithful xCos and Grad-CAM explanations are (deletion/insertion AUCs against a random order).");
        args.AddTo(command);
        command.SetAction(parse =>
        {
            var curves = CurveOptions(parse, args);
            var measured = parse.GetValue(args.Model.Checkpoint) is null ? MeasurePhotos(parse, args, curves) : MeasureCheckpoint(parse, args, curves);
            if (parse.GetValue(args.CurvePlot) is { } png) SaveCurvePlot(png.FullName, measured, curves);
            if (parse.GetValue(args.Json)) Console.Out.WriteLine(JsonSerializer.Serialize(measured.Report, JsonOptions));
            else WriteTable(measured.Report);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static FaithfulnessOptions CurveOptions(ParseResult parse, Args a) => new()
    {
        PatchesPerStep = parse.GetValue(a.PerStep), RandomOrders = parse.GetValue(a.RandomOrders), Seed = parse.GetValue(a.Seed),
        Fill = EnumOption.Parse(parse, a.Fill, PatchFillText.Map), Face = parse.GetValue(a.Face),
    };

    private static int MaxPairs(ParseResult parse, Args a) => parse.GetValue(a.MaxPairs) ?? int.MaxValue;

    /// <summary>Whether to measure occlusion robustness too, and with which options for <paramref name="pairs"/> pairs.</summary>
    private static OcclusionOptions? OcclusionOptions(ParseResult parse, Args a, int pairs) =>
        parse.GetValue(a.Occlusion) || parse.GetValue(a.OcclusionPlot) is not null
            ? new OcclusionOptions { Seed = parse.GetValue(a.Seed), Verification = new Xcos.ML.Metrics.VerificationOptions { Folds = Math.Min(10, pairs) } }
            : null;

    private static OcclusionResult? MeasureOcclusion(ParseResult parse, Args a, IFacePairScoring scorer, IReadOnlyList<(RgbImage Face1, RgbImage Face2)> faces,
        IReadOnlyList<bool> labels)
    {
        if (OcclusionOptions(parse, a, faces.Count) is not { } options) return null;
        var result = OcclusionRobustness.Evaluate(scorer, faces.Select(f => f.Face1).ToArray(), faces.Select(f => f.Face2).ToArray(), labels, options);
        if (parse.GetValue(a.OcclusionPlot) is { } png) result.SavePlot(png.FullName);
        return result;
    }

    // Real-photo mode: the ONNX face model; the explained score is its embedding cosine (what decides).
    private static Measured MeasurePhotos(ParseResult parse, Args a, FaithfulnessOptions curves)
    {
        using var verifier = a.Real.CreateWeightsVerifier(parse, parse.GetValue(a.Model.Threads) ?? 0);
        var options = new RealFaceFaithfulnessOptions
        {
            Curves = curves, BatchSize = parse.GetValue(a.Batch), Augmentation = parse.GetValue(a.NoAugment) ? null : new FaceAugmentationOptions(),
        };
        var set = RealFaceFaithfulness.LoadPairs(verifier, parse.GetValue(a.Pairs)!.FullName, parse.GetValue(a.Root)?.FullName, options);
        int n = Math.Min(set.Count, MaxPairs(parse, a));
        var faces = set.Faces.Take(n).ToArray();
        var labels = set.Labels.Take(n).ToArray();
        var started = DateTime.UtcNow;
        var results = RealFaceFaithfulness.EvaluatePairs(verifier, faces, options);
        var seconds = (DateTime.UtcNow - started).TotalSeconds;
        var occlusion = MeasureOcclusion(parse, a, new RealFaceScoring(verifier.Embedder, verifier.Xcos!, options.BatchSize), faces, labels);
        var summary = FaithfulnessSummary.From(results);
        var report = Report(summary, results, labels, RealFaceFaithfulness.CosineScore, curves, "model",
            Path.Combine(verifier.ModelsDir, verifier.Descriptor.OnnxFile), set.Source, seconds, occlusion) with
        {
            Mode = "photos",
            Augmented = options.Augmentation is not null,
        };
        return new Measured(summary, report);
    }

    // Checkpoint mode: the model is loaded as every command loads it (architecture read from the checkpoint).
    private static Measured MeasureCheckpoint(ParseResult parse, Args a, FaithfulnessOptions curves)
    {
        var cosine = EnumOption.Parse(parse, a.Cosine, CosineSourceText.Map);
        var faces = AlignedFacePairs.Load(parse.GetValue(a.Pairs)!.FullName, parse.GetValue(a.Root)?.FullName, MaxPairs(parse, a));
        var (model, device) = a.Model.Load(parse);
        using var _ = model;
        var options = new XcosFaithfulnessOptions
        {
            Curves = curves,
            Scorer = new XcosModelScoringOptions { BatchSize = parse.GetValue(a.Batch), Cosine = cosine, Device = device },
        };
        var started = DateTime.UtcNow;
        var results = faces.Faces.Select(f => XcosFaithfulness.Evaluate(model, f.Face1, f.Face2, options)).ToArray();
        var seconds = (DateTime.UtcNow - started).TotalSeconds;
        var occlusion = MeasureOcclusion(parse, a, new XcosModelScoring(model, options.Scorer), faces.Faces, faces.Labels);
        var summary = FaithfulnessSummary.From(results);
        var report = Report(summary, results, faces.Labels, "xcos", curves, cosine.ToText(),
            parse.GetValue(a.Model.Checkpoint)!.FullName, faces.Source, seconds, occlusion) with
        {
            Mode = "checkpoint",
        };
        return new Measured(summary, report);
    }

    private static void SaveCurvePlot(string path, Measured m, FaithfulnessOptions curves) =>
        FaithfulnessCurvePlot.Save(path, m.Summary, FaithfulnessKind.Deletion, m.Report.Score, new LinePlotOptions
        {
            Title = string.Create(CultureInfo.InvariantCulture, $"Deletion of face {curves.Face}'s cells: {m.Report.Score} ({m.Summary.Pairs} pairs, {m.Report.Mode})"),
            XLabel = "fraction of cells deleted (most important first)", YLabel = $"mean {m.Report.Score}", LegendBottomRight = false, XMin = 0, XMax = 1,
        });

    // snake_case like every other command's JSON
    private static readonly JsonSerializerOptions JsonOptions = new(Cli.Json) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) } };

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
        return new FaithfulnessReport(s.Pairs, explained, o.Fill.ToText(), o.Face,
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
