using System.Diagnostics;
using System.Numerics.Tensors;
using Xcos.ML.Gallery;

namespace Xcos.Cli.Benchmarks;

/// <summary>Settings of <see cref="GalleryBenchmark"/>.</summary>
internal sealed class GalleryBenchmarkOptions
{
    /// <summary>Gallery size (faces).</summary>
    public int Faces { get; set; } = 100_000;
    /// <summary>Faces per identity: identities = faces / this.</summary>
    public int FacesPerIdentity { get; set; } = 10;
    /// <summary>Embedding length.</summary>
    public int Dim { get; set; } = 512;
    /// <summary>Norm of each face's noise around its identity's unit centre: 0.8 gives same-identity cosines near 0.6, as real face models do.</summary>
    public double Noise { get; set; } = 0.8;
    /// <summary>Timed queries (fresh faces of enrolled identities).</summary>
    public int Queries { get; set; } = 200;
    /// <summary>HNSW settings (their build threads are the benchmark's too); null: a gallery's by size (<see cref="GalleryIndexChoice.SettingsFor"/>).</summary>
    public HnswSettings? Hnsw { get; set; }
    /// <summary>
    /// Search expansions (ef) to time queries at, one graph for all. The expansion calibrated for <see cref="Recall"/> is
    /// timed too; with neither, <see cref="HnswSettings.ExpansionSearch"/> alone.
    /// </summary>
    public IReadOnlyList<int> ExpansionSearch { get; set; } = [];
    /// <summary>
    /// recall@10 target: the graph is calibrated on sampled members as a gallery calibrates it
    /// (<see cref="HnswRecallCalibration"/>) and the chosen expansion timed with the fresh queries (default 0.99; null: none).
    /// </summary>
    public double? Recall { get; set; } = GalleryIndexChoice.DefaultRecall;
    /// <summary>Members sampled by the calibration.</summary>
    public int CalibrationSamples { get; set; } = HnswRecallCalibration.DefaultSamples;
    /// <summary>
    /// Folder where the graph is saved (<see cref="HnswGraphFile"/>, named by size, seed and graph settings) and loaded
    /// from by a later run on the same faces and settings, so an ef sweep does not rebuild it; null: neither.
    /// </summary>
    public string? GraphDirectory { get; set; }
    /// <summary>Queries whose exact top-100 latency and exact processor time are timed (all of them get an exact top-10, the recall's truth).</summary>
    public int ExactTimedQueries { get; set; } = 50;
    /// <summary>Candidates re-ranked per query by the pair head.</summary>
    public int RerankK { get; set; } = 100;
    /// <summary>Queries whose re-ranking is timed.</summary>
    public int RerankQueries { get; set; } = 20;
    /// <summary>Random seed.</summary>
    public int Seed { get; set; } = 1;
}

/// <summary>Latency percentiles in milliseconds.</summary>
internal sealed record Latency(double P50, double P99, double Mean);

/// <summary>HNSW queries at one search expansion.</summary>
/// <param name="ExpansionSearch">The search expansion (ef) of this run; USearch uses at least the requested count.</param>
/// <param name="Top10">Wall-clock latency of top-10 queries.</param>
/// <param name="Top100">Wall-clock latency of top-100 queries.</param>
/// <param name="RecallAt10">Mean share of the exact top-10 that HNSW's top-10 found.</param>
/// <param name="CpuTop10">Processor milliseconds per top-10 query.</param>
/// <param name="CpuTop100">Processor milliseconds per top-100 query.</param>
internal sealed record HnswSearchRun(int ExpansionSearch, Latency Top10, Latency Top100, double RecallAt10, double CpuTop10, double CpuTop100);

/// <summary>
/// What <see cref="GalleryBenchmark.Run"/> measured. GraphOrigin says whether the graph was built (and saved) or loaded
/// from an earlier run's file; HnswBuildSeconds and HnswBuildCpuSeconds are then the load's. HnswBuildSeconds is wall-clock, HnswBuildCpuSeconds the processor
/// time of that build over all threads (it compares across loads); HnswMegabytes is the graph as USearch serialises it
/// (vectors, links, keys); PeakMegabytes the process's peak resident memory (VmHWM) at the end, everything included;
/// Search holds the HNSW queries at each search expansion asked for; Rerank the wall-clock cost of re-ranking RerankK
/// candidates with explanations.
/// </summary>
internal sealed record GalleryBenchmarkResult(
    int Faces, int Identities, int Dim, int Queries,
    double ExactBuildSeconds, double ExactMegabytes, double HnswBuildSeconds, double HnswBuildCpuSeconds, double HnswMegabytes,
    double PeakMegabytes, int BuildThreads,
    Latency ExactTop10, Latency ExactTop100, int ExactTimedQueries, IReadOnlyList<HnswSearchRun> Search,
    double SameIdentityCosine, int RerankK, Latency? Rerank, string? RerankModel, HnswSettings Hnsw, int Threads,
    CpuCost Cpu, string GraphOrigin = "built", double? RecallTarget = null, HnswCalibration? Calibration = null, int? CalibratedExpansion = null,
    double CalibrationSeconds = 0);

/// <summary>
/// Mean processor time in milliseconds per operation, from the process's CPU time over a whole loop: unlike wall-clock
/// percentiles it does not count time spent waiting for a core, so it compares across loads.
/// </summary>
internal sealed record CpuCost(double ExactTop10, double ExactTop100, double? Rerank);

/// <summary>
/// Synthetic gallery benchmark: clustered embeddings (unit identity centres plus Gaussian noise; HNSW behaves very
/// differently on uniform random vectors), exact SIMD scan against HNSW: build time and memory, query latency for
/// top-10 and top-100 at one or more search expansions, recall@10 of HNSW against the exact scan, and the pair
/// head's cost of re-ranking k candidates.
/// </summary>
/// <remarks>
/// Memory: the faces are generated once into one array, which the exact index uses as its storage (no copy) and the
/// graph build reads in place; the graph holds the only other copy. No face codes are stored: re-ranking is timed
/// on <see cref="GalleryBenchmarkOptions.RerankK"/> random codes held in memory, which is what a search hands the
/// pair head once it has read the shortlist's codes (a real gallery reads them from its file by offset).
/// </remarks>
internal static class GalleryBenchmark
{
    /// <summary>Runs the benchmark; <paramref name="reranker"/> (an encoder whose Compare is timed on random codes) may be null.</summary>
    public static GalleryBenchmarkResult Run(GalleryBenchmarkOptions o, IFaceEncoder? reranker = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Faces < 10 || o.FacesPerIdentity < 2 || o.Dim < 2 || o.Queries < 1) throw new ArgumentException("faces >= 10, faces per identity >= 2, dim >= 2, queries >= 1");
        if ((long)o.Faces * o.Dim > Array.MaxLength) throw new ArgumentException($"{o.Faces} faces of {o.Dim} values do not fit one array");
        var settings = o.Hnsw ?? GalleryIndexChoice.SettingsFor(o.Faces);
        var efs = o.ExpansionSearch.ToList();
        if (efs.Count == 0 && o.Recall is null) efs.Add(settings.ExpansionSearch);
        if (efs.Any(x => x < 1)) throw new ArgumentException("search expansions must be >= 1");
        if (o.Recall is { } target) HnswRecallCalibration.CheckTarget(target);
        int ids = Math.Max(1, o.Faces / o.FacesPerIdentity);
        var rng = new Random(o.Seed);
        log?.Invoke($"generating {o.Faces:N0} faces of {ids:N0} identities ({o.Dim}-d)");
        var centres = new float[(long)ids * o.Dim];
        for (int i = 0; i < ids; i++) Normalise(Gaussian(rng, centres.AsSpan(i * o.Dim, o.Dim), 1));
        var data = new float[(long)o.Faces * o.Dim];
        for (int f = 0; f < o.Faces; f++) Face(rng, centres, f % ids, o, data.AsSpan(f * o.Dim, o.Dim));
        var queries = new float[o.Queries][];
        for (int q = 0; q < o.Queries; q++) { queries[q] = new float[o.Dim]; Face(rng, centres, rng.Next(ids), o, queries[q]); }
        centres = [];
        double sameCos = TensorPrimitives.Dot<float>(data.AsSpan(0, o.Dim), data.AsSpan(ids * o.Dim, o.Dim));

        log?.Invoke("building the exact index");
        var sw = Stopwatch.StartNew();
        using var exact = ExactVectorIndex.Over(data, o.Faces, o.Dim);
        double exactBuild = sw.Elapsed.TotalSeconds;
        double exactMb = data.LongLength * 4.0 / 1048576.0;

        int threads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        sw.Restart();
        string? graphPath = o.GraphDirectory is { } dir ? Path.Combine(dir, GraphFileName(o, settings)) : null;
        string origin = "";
        using var hnsw = (graphPath is null ? null : TryLoadGraph(graphPath, data, o, settings, log, out origin)) ?? Build(out origin);
        double hnswBuild = sw.Elapsed.TotalSeconds;
        double hnswCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        double hnswMb = hnsw.SerializedLength / 1048576.0;
        log?.Invoke($"  graph {origin}: {hnswBuild:F1} s ({hnswCpu:F1} s of processor time)");

        HnswVectorIndex Build(out string how)
        {
            log?.Invoke($"building the HNSW index ({threads} threads)");
            var graph = new HnswVectorIndex(o.Dim, settings);
            try
            {
                var keys = new long[o.Faces];
                for (int i = 0; i < keys.Length; i++) keys[i] = i;
                // in slices, for progress lines on long builds, into capacity reserved once
                graph.Reserve(o.Faces);
                int slice = Math.Max(1, o.Faces / 20);
                for (int start = 0; start < o.Faces; start += slice)
                {
                    int n = Math.Min(slice, o.Faces - start);
                    graph.AddRange(keys.AsSpan(start, n), data, start, threads);
                    log?.Invoke($"  {start + n:N0} added, {sw.Elapsed.TotalSeconds:F0} s, {(Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds:F0} s of processor time");
                }
                how = "built";
                if (graphPath is not null)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(graphPath)!);
                    HnswGraphFile.Save(graphPath, graph, Digest(data, o));
                    how = $"built, saved to {graphPath}";
                }
                return graph;
            }
            catch
            {
                graph.Dispose();
                throw;
            }
        }

        HnswCalibration? calibration = null;
        int? calibratedEf = null;
        double calibrationSeconds = 0;
        if (o.Recall is { } goal)
        {
            log?.Invoke($"calibrating the search expansion for recall@10 {goal} on {Math.Min(o.CalibrationSamples, o.Faces)} members");
            sw.Restart();
            calibration = HnswRecallCalibration.Calibrate(hnsw, o.Faces, i => i, i => data.AsSpan(i * o.Dim, o.Dim), o.CalibrationSamples, o.Seed);
            calibrationSeconds = sw.Elapsed.TotalSeconds;
            var point = calibration.PointFor(goal);
            calibratedEf = point.ExpansionSearch;
            log?.Invoke($"  ef {point.ExpansionSearch} (members' recall@10 {point.RecallAt10:F4}) in {calibrationSeconds:F1} s: " +
                string.Join(", ", calibration.Points.Select(p => $"{p.ExpansionSearch}:{p.RecallAt10:F4}")));
            if (!efs.Contains(point.ExpansionSearch)) efs.Add(point.ExpansionSearch);
        }

        log?.Invoke("timing exact queries");
        // every query needs its exact top-10 (the recall's truth); the scan's other timings use a subset, as at 1M one scan reads 2 GB
        int exactTimed = Math.Clamp(o.ExactTimedQueries, 1, o.Queries);
        var (e10, e100) = (new double[o.Queries], new double[exactTimed]);
        var truth = new HashSet<long>[o.Queries];
        for (int q = 0; q < o.Queries; q++)
        {
            sw.Restart(); var ex10 = exact.Search(queries[q], 10); e10[q] = sw.Elapsed.TotalMilliseconds;
            if (q < exactTimed) { sw.Restart(); exact.Search(queries[q], 100); e100[q] = sw.Elapsed.TotalMilliseconds; }
            truth[q] = ex10.Select(x => x.Key).ToHashSet();
        }

        double Cpu(Action<float[]> op, int n)
        {
            var t0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (int q = 0; q < n; q++) op(queries[q]);
            return (Process.GetCurrentProcess().TotalProcessorTime - t0).TotalMilliseconds / n;
        }
        double cE10 = Cpu(q => exact.Search(q, 10), exactTimed), cE100 = Cpu(q => exact.Search(q, 100), exactTimed);

        var runs = new List<HnswSearchRun>();
        foreach (int ef in efs)
        {
            log?.Invoke($"timing HNSW queries at ef {ef}");
            hnsw.ExpansionSearch = ef;
            var (h10, h100) = (new double[o.Queries], new double[o.Queries]);
            double recall = 0;
            for (int q = 0; q < o.Queries; q++)
            {
                sw.Restart(); var hx10 = hnsw.Search(queries[q], 10); h10[q] = sw.Elapsed.TotalMilliseconds;
                sw.Restart(); hnsw.Search(queries[q], 100); h100[q] = sw.Elapsed.TotalMilliseconds;
                recall += hx10.Count(x => truth[q].Contains(x.Key)) / (double)truth[q].Count;
            }
            runs.Add(new HnswSearchRun(ef, Stats(h10), Stats(h100), recall / o.Queries, Cpu(q => hnsw.Search(q, 10), o.Queries), Cpu(q => hnsw.Search(q, 100), o.Queries)));
        }

        double? cRerank = null;
        Latency? rerank = null;
        if (reranker is not null && o.RerankK > 0)
        {
            log?.Invoke($"timing re-ranking of {o.RerankK} candidates with {reranker.Model.Name}");
            int len = reranker.Model.CodeLength;
            var probe = Gaussian(rng, new float[len], 1).ToArray();
            var codes = Enumerable.Range(0, o.RerankK).Select(_ => Gaussian(rng, new float[len], 1).ToArray()).ToArray();
            reranker.CompareMany(probe, codes);   // warm-up
            var t = new double[o.RerankQueries];
            for (int q = 0; q < t.Length; q++)
            {
                // the shortlist as FaceIdentifier scores it: one CompareMany (one batched call for a learned head)
                sw.Restart();
                reranker.CompareMany(probe, codes);
                t[q] = sw.Elapsed.TotalMilliseconds;
            }
            rerank = Stats(t);
            var c0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (int q = 0; q < t.Length; q++) reranker.CompareMany(probe, codes);
            cRerank = (Process.GetCurrentProcess().TotalProcessorTime - c0).TotalMilliseconds / t.Length;
        }
        double peakMb = PeakResidentBytes() / 1048576.0;
        GC.KeepAlive(data);
        return new GalleryBenchmarkResult(o.Faces, ids, o.Dim, o.Queries, exactBuild, exactMb, hnswBuild, hnswCpu, hnswMb, peakMb, threads,
            Stats(e10), Stats(e100), exactTimed, runs, sameCos, o.RerankK, rerank, reranker?.Model.Name, settings with { ExpansionSearch = calibratedEf ?? efs[0] },
            Environment.ProcessorCount, new CpuCost(cE10, cE100, cRerank), origin, o.Recall, calibration, calibratedEf, calibrationSeconds);
    }

    /// <summary>The graph file's name in <see cref="GalleryBenchmarkOptions.GraphDirectory"/>: everything that decides the faces and the graph.</summary>
    public static string GraphFileName(GalleryBenchmarkOptions o, HnswSettings settings)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(settings);
        return FormattableString.Invariant(
            $"gallery-bench-{o.Faces}f-{o.FacesPerIdentity}per-{o.Dim}d-noise{o.Noise:R}-seed{o.Seed}-M{settings.Connectivity}-efadd{settings.ExpansionAdd}-{settings.Quantization}.hnsw");
    }

    private static GalleryContentDigest Digest(float[] data, GalleryBenchmarkOptions o)
    {
        using var digest = new GalleryContentDigest.Builder();
        for (int i = 0; i < o.Faces; i++) digest.Append(i, data.AsSpan(i * o.Dim, o.Dim));
        return digest.Current();
    }

    // An earlier run's graph of these very faces (content digest) and settings, or null (and why, in the log).
    private static HnswVectorIndex? TryLoadGraph(string path, float[] data, GalleryBenchmarkOptions o, HnswSettings settings, Action<string>? log, out string origin)
    {
        origin = "";
        var header = HnswGraphFile.ReadHeader(path, out var why);
        if (header is not null)
        {
            if (header.Faces != o.Faces || !Digest(data, o).Hash.AsSpan().SequenceEqual(header.ContentHash)) why = $"{path}: saved for other faces";
            else if (HnswGraphFile.TryLoad(path, header, o.Dim, settings, new LongRange(o.Faces), out why) is { } loaded)
            {
                origin = $"loaded from {path}";
                log?.Invoke($"loaded the HNSW graph from {path} (no rebuild)");
                return loaded;
            }
        }
        log?.Invoke($"no saved graph to reuse ({why})");
        return null;
    }

    // The keys 0..n-1 without an array of them.
    private sealed class LongRange(int count) : IReadOnlyCollection<long>
    {
        public int Count => count;
        public IEnumerator<long> GetEnumerator() { for (long i = 0; i < count; i++) yield return i; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    // VmHWM of /proc/self/status where there is one (Linux); elsewhere the current peak working set .NET reports.
    private static long PeakResidentBytes()
    {
        const string status = "/proc/self/status";
        if (File.Exists(status))
            foreach (var line in File.ReadLines(status))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return Process.GetCurrentProcess().PeakWorkingSet64;
    }

    internal static void Face(Random rng, float[] centres, int id, GalleryBenchmarkOptions o, Span<float> dst)
    {
        Gaussian(rng, dst, o.Noise / Math.Sqrt(o.Dim));
        TensorPrimitives.Add(dst, centres.AsSpan(id * o.Dim, o.Dim), dst);
        Normalise(dst);
    }

    internal static Span<float> Gaussian(Random rng, Span<float> dst, double std)
    {
        for (int i = 0; i < dst.Length; i++)
            dst[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return dst;
    }

    internal static void Normalise(Span<float> v)
    {
        float n = TensorPrimitives.Norm(v);
        if (n > 0) TensorPrimitives.Divide(v, n, v);
    }

    internal static Latency Stats(double[] ms)
    {
        var s = ms.Order().ToArray();
        double P(double q) => s[Math.Min(s.Length - 1, (int)Math.Ceiling(q * s.Length) - 1)];
        return new Latency(P(0.5), P(0.99), s.Average());
    }
}
