using System.CommandLine;
using Xcos.Cli.Benchmarks;
using Xcos.ML.Gallery;
using Xcos.ML.Heads;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos gallery-bench`: exact scan against HNSW on synthetic clustered embeddings (build time and memory, p50/p99
/// for top-10 and top-100, recall@10) and the pair head's re-ranking cost, for the 1:N figures of docs/identification.md.
/// </summary>
internal static class GalleryBenchCommand
{
    public static Command Create()
    {
        var faces = new Option<int[]>("--faces") { Description = "Gallery sizes to run (comma-separated or repeated), e.g. 1000,10000,100000", DefaultValueFactory = _ => [100_000], AllowMultipleArgumentsPerToken = true, CustomParser = r => Ints(r, "--faces") };
        var perId = new Option<int>("--faces-per-identity") { Description = "Faces per identity", DefaultValueFactory = _ => 10 };
        var queries = new Option<int>("--queries") { Description = "Timed queries", DefaultValueFactory = _ => 200 };
        var m = new Option<int?>("--connectivity") { Description = "HNSW links per node (M; default by size, as a gallery picks it: 16, or 32 from 200,000 faces)" };
        var efAdd = new Option<int?>("--ef-add") { Description = "HNSW build expansion (default by size: 128)" };
        var efSearch = new Option<int[]>("--ef-search") { Description = "More HNSW search expansions to time queries at, one graph for all (comma-separated), e.g. 64,128,256", DefaultValueFactory = _ => [], AllowMultipleArgumentsPerToken = true, CustomParser = r => Ints(r, "--ef-search") };
        var recall = new Option<double>("--recall") { Description = "recall@10 target: calibrate the search expansion on sampled members as a gallery does, and time it (0: no calibration)", DefaultValueFactory = _ => GalleryIndexChoice.DefaultRecall };
        var graphDir = new Option<DirectoryInfo?>("--graph-dir") { Description = "Where the graph is saved and reused by later runs on the same faces and settings (default: the user data folder's xcos/gallery-bench)" };
        var noSave = new Option<bool>("--no-save-graph") { Description = "Neither save nor reuse the graph" };
        var threads = new Option<int?>("--threads") { Description = "Threads that build the graph (default: every core)" };
        var quant = new Option<HnswQuantization?>("--quantization") { Description = "How the graph stores vectors: Float32, BFloat16 or Float16 (default by size: Float32, or BFloat16 from 200,000 faces)" };
        var rerankK = new Option<int>("--rerank-k") { Description = "Candidates re-ranked by the fr_feature pair head (0: skip; needs the models)", DefaultValueFactory = _ => 100 };
        var modelsDir = new Option<DirectoryInfo?>("--models-dir") { Description = "Models folder for the re-ranking head (default: $XCOS_MODELS or the user data folder)" };
        var model = new Option<string>("--model") { Description = "Face model whose pair head re-ranks: fr_feature (default), fr_feature_xcos or a descriptor .json", DefaultValueFactory = _ => "fr_feature" };
        var xcos = new Option<string>("--xcos") { Description = "Re-ranking head: weights (weight-derived, default) or learned (the learned head, one batched call per shortlist)", DefaultValueFactory = _ => "weights" };
        var json = new Option<bool>("--json") { Description = "One JSON object per size" };
        var cmd = new Command("gallery-bench", "Benchmark 1:N search (exact SIMD vs HNSW) and xCos re-ranking on synthetic clustered embeddings");
        foreach (var o in new Option[] { faces, perId, queries, m, efAdd, efSearch, recall, graphDir, noSave, threads, quant, rerankK, modelsDir, model, xcos, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            IFaceEncoder? reranker = null;
            var variant = RealFaceArgs.VariantOf(p.GetValue(xcos), () => throw new InvalidOperationException("--xcos has a default"));
            if (p.GetValue(rerankK) > 0)
            {
                try
                {
                    reranker = new OnnxFaceEncoder(p.GetValue(modelsDir)?.FullName, RealFaceArgs.ResolveModel(p.GetValue(model)!, "--model"), intraOpThreads: 1, needDetector: false,
                        XcosVariantText.ParseOnnx(variant));
                }
                catch (FileNotFoundException e) { throw new CliException(e.Message + " (or pass --rerank-k 0)"); }
            }
            using var _r = reranker;
            double target = p.GetValue(recall);
            if (target is < 0 or > 1 || double.IsNaN(target)) throw new CliException($"--recall {target}: expected a recall in (0, 1], or 0 for none.", ExitCodes.Usage);
            string? dir = p.GetValue(noSave) ? null : p.GetValue(graphDir)?.FullName
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "xcos", "gallery-bench");
            foreach (var n in p.GetValue(faces)!)
            {
                // a gallery's settings for this size, with whatever the command line fixes
                var bySize = GalleryIndexChoice.SettingsFor(n, p.GetValue(threads) ?? 0);
                var settings = bySize with
                {
                    Connectivity = p.GetValue(m) ?? bySize.Connectivity,
                    ExpansionAdd = p.GetValue(efAdd) ?? bySize.ExpansionAdd,
                    Quantization = p.GetValue(quant) ?? bySize.Quantization,
                };
                var r = GalleryBenchmark.Run(new GalleryBenchmarkOptions
                {
                    Faces = n, FacesPerIdentity = p.GetValue(perId), Queries = p.GetValue(queries), RerankK = p.GetValue(rerankK),
                    Hnsw = settings, ExpansionSearch = p.GetValue(efSearch)!, Recall = target > 0 ? target : null, GraphDirectory = dir,
                }, reranker, msg => Console.Error.WriteLine(msg));
                if (p.GetValue(json)) Cli.WriteJson(r, Cli.JsonDeclaredNames);
                else
                {
                    Console.WriteLine($"{r.Faces:N0} faces, {r.Identities:N0} identities, {r.Dim}-d (same-identity cosine ~{r.SameIdentityCosine:F2}), {r.Queries} queries, {r.Threads} cores visible");
                    Console.WriteLine($"  exact: {r.ExactMegabytes:F0} MB; top-10 p50 {r.ExactTop10.P50:F3} ms p99 {r.ExactTop10.P99:F3} ms; top-100 p50 {r.ExactTop100.P50:F3} ms p99 {r.ExactTop100.P99:F3} ms; CPU ms per query {r.Cpu.ExactTop10:F3} / {r.Cpu.ExactTop100:F3}");
                    Console.WriteLine($"  hnsw (M={r.Hnsw.Connectivity}, ef_add={r.Hnsw.ExpansionAdd}, {r.Hnsw.Quantization}): {r.GraphOrigin} in {r.HnswBuildSeconds:F1} s on {r.BuildThreads} threads ({r.HnswBuildCpuSeconds:F1} s of processor time), graph {r.HnswMegabytes:F0} MB; peak resident {r.PeakMegabytes:F0} MB");
                    if (r.Calibration is { } c)
                        Console.WriteLine($"  calibrated for recall@10 {r.RecallTarget} on {c.Samples} members in {r.CalibrationSeconds:F1} s: ef {r.CalibratedExpansion} " +
                            $"(members' recall@10 by ef: {string.Join(", ", c.Points.Select(x => $"{x.ExpansionSearch}:{x.RecallAt10:F3}"))})");
                    foreach (var h in r.Search)
                        Console.WriteLine($"    ef {h.ExpansionSearch}{(h.ExpansionSearch == r.CalibratedExpansion ? " (calibrated)" : "")}: top-10 p50 {h.Top10.P50:F3} ms p99 {h.Top10.P99:F3} ms; top-100 p50 {h.Top100.P50:F3} ms p99 {h.Top100.P99:F3} ms; recall@10 {h.RecallAt10:F4}; CPU ms per query {h.CpuTop10:F3} / {h.CpuTop100:F3}");
                    if (r.Rerank is { } rr) Console.WriteLine($"  re-rank {r.RerankK} candidates with explanations ({r.RerankModel}, --xcos {variant}): p50 {rr.P50:F2} ms p99 {rr.P99:F2} ms; CPU {r.Cpu.Rerank:F2} ms");
                }
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static int[] Ints(System.CommandLine.Parsing.ArgumentResult r, string option)
    {
        var values = new List<int>();
        foreach (var part in r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)))
        {
            if (!int.TryParse(part, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v) || v < 1)
            {
                r.AddError($"{option}: '{part}' is not a positive whole number");
                return [];
            }
            values.Add(v);
        }
        return [.. values];
    }
}
