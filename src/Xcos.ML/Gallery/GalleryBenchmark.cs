using System.Diagnostics;
using System.Numerics.Tensors;

namespace Xcos.ML.Gallery;

/// <summary>Size and shape of the synthetic gallery that <see cref="GalleryBenchmark"/> builds and searches.</summary>
public sealed class GalleryBenchmarkOptions
{
    /// <summary>Gallery size (faces).</summary>
    public int Faces { get; set; } = 100_000;
    /// <summary>Faces per identity: identities = faces / this.</summary>
    public int FacesPerIdentity { get; set; } = 10;
    /// <summary>Embedding length (512, as fr_feature).</summary>
    public int Dim { get; set; } = 512;
    /// <summary>Norm of each face's noise around its identity's unit centre: 0.8 gives same-identity cosines near 0.6, as real face models do.</summary>
    public double Noise { get; set; } = 0.8;
    /// <summary>Timed queries (fresh faces of enrolled identities).</summary>
    public int Queries { get; set; } = 200;
    /// <summary>Graph settings of the HNSW index under test.</summary>
    public HnswSettings Hnsw { get; set; } = new();
    /// <summary>Candidates re-ranked per query by the pair head.</summary>
    public int RerankK { get; set; } = 100;
    /// <summary>Queries whose re-ranking is timed.</summary>
    public int RerankQueries { get; set; } = 20;
    /// <summary>Seed of the synthetic identities and queries: the same seed gives the same gallery.</summary>
    public int Seed { get; set; } = 1;
}

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record Latency(double P50, double P99, double Mean);

/// <summary>What <see cref="GalleryBenchmark.Run"/> measured.</summary>
public sealed record GalleryBenchmarkResult(
    int Faces, int Identities, int Dim, int Queries,
    double ExactBuildSeconds, double ExactMegabytes, double HnswBuildSeconds, double HnswMegabytes,
    Latency ExactTop10, Latency ExactTop100, Latency HnswTop10, Latency HnswTop100,
    double RecallAt10, double SameIdentityCosine, Latency? Rerank, string? RerankModel, HnswSettings Hnsw, int Threads,
    CpuCost Cpu);

/// <summary>
/// Mean processor time in milliseconds per operation, from the process's CPU time over a whole loop: unlike wall-clock
/// percentiles it does not count time spent waiting for a core, so it compares across loads.
/// </summary>
public sealed record CpuCost(double ExactTop10, double ExactTop100, double HnswTop10, double HnswTop100, double? Rerank);

/// <summary>
/// Synthetic gallery benchmark: clustered embeddings (unit identity centres plus Gaussian noise; HNSW behaves very
/// differently on uniform random vectors), exact SIMD scan against HNSW: build time and memory, query latency for
/// top-10 and top-100, recall@10 of HNSW against the exact scan, and the pair head's cost of re-ranking k candidates.
/// </summary>
public static class GalleryBenchmark
{
    /// <summary>Runs the benchmark; <paramref name="reranker"/> (an encoder whose Compare is timed on random codes) may be null.</summary>
    public static GalleryBenchmarkResult Run(GalleryBenchmarkOptions o, IFaceEncoder? reranker = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Faces < 10 || o.FacesPerIdentity < 1 || o.Dim < 2 || o.Queries < 1) throw new ArgumentException("faces >= 10, faces per identity >= 1, dim >= 2, queries >= 1");
        int ids = Math.Max(1, o.Faces / o.FacesPerIdentity);
        var rng = new Random(o.Seed);
        log?.Invoke($"generating {o.Faces:N0} faces of {ids:N0} identities ({o.Dim}-d)");
        var centres = new float[(long)ids * o.Dim];
        for (int i = 0; i < ids; i++) Normalise(Gaussian(rng, centres.AsSpan(i * o.Dim, o.Dim), 1));
        var data = new float[(long)o.Faces * o.Dim];
        for (int f = 0; f < o.Faces; f++) Face(rng, centres, f % ids, o, data.AsSpan((int)((long)f * o.Dim), o.Dim));
        var queries = new float[o.Queries][];
        for (int q = 0; q < o.Queries; q++) { queries[q] = new float[o.Dim]; Face(rng, centres, rng.Next(ids), o, queries[q]); }
        double sameCos = TensorPrimitives.Dot<float>(data.AsSpan(0, o.Dim), data.AsSpan(ids * o.Dim, o.Dim));

        log?.Invoke("building the exact index");
        long m0 = GC.GetTotalMemory(true);
        var sw = Stopwatch.StartNew();
        using var exact = new ExactVectorIndex(o.Dim, o.Faces);
        for (int f = 0; f < o.Faces; f++) exact.Add(f, data.AsSpan((int)((long)f * o.Dim), o.Dim));
        double exactBuild = sw.Elapsed.TotalSeconds;
        double exactMb = (GC.GetTotalMemory(true) - m0) / 1048576.0;

        log?.Invoke("building the HNSW index");
        long w0 = Process.GetCurrentProcess().PrivateMemorySize64;
        sw.Restart();
        using var hnsw = new HnswVectorIndex(o.Dim, o.Hnsw);
        const int batch = 10_000;
        for (int start = 0; start < o.Faces; start += batch)
        {
            int n = Math.Min(batch, o.Faces - start);
            var keys = Enumerable.Range(start, n).Select(i => (long)i).ToList();
            var rows = keys.Select(k => data.AsSpan((int)(k * o.Dim), o.Dim).ToArray()).ToList();
            hnsw.AddRange(keys, rows);
            log?.Invoke($"  {start + n:N0} added, {sw.Elapsed.TotalSeconds:F0} s");
        }
        double hnswBuild = sw.Elapsed.TotalSeconds;
        double hnswMb = (Process.GetCurrentProcess().PrivateMemorySize64 - w0) / 1048576.0;

        log?.Invoke("timing queries");
        var (e10, e100, h10, h100) = (new double[o.Queries], new double[o.Queries], new double[o.Queries], new double[o.Queries]);
        double recall = 0;
        for (int q = 0; q < o.Queries; q++)
        {
            sw.Restart(); var ex10 = exact.Search(queries[q], 10); e10[q] = sw.Elapsed.TotalMilliseconds;
            sw.Restart(); exact.Search(queries[q], 100); e100[q] = sw.Elapsed.TotalMilliseconds;
            sw.Restart(); var hx10 = hnsw.Search(queries[q], 10); h10[q] = sw.Elapsed.TotalMilliseconds;
            sw.Restart(); hnsw.Search(queries[q], 100); h100[q] = sw.Elapsed.TotalMilliseconds;
            recall += ex10.Select(x => x.Key).Intersect(hx10.Select(x => x.Key)).Count() / (double)ex10.Count;
        }

        double Cpu(Action<float[]> op)
        {
            var t0 = Process.GetCurrentProcess().TotalProcessorTime;
            foreach (var q in queries) op(q);
            return (Process.GetCurrentProcess().TotalProcessorTime - t0).TotalMilliseconds / queries.Length;
        }
        double cE10 = Cpu(q => exact.Search(q, 10)), cE100 = Cpu(q => exact.Search(q, 100));
        double cH10 = Cpu(q => hnsw.Search(q, 10)), cH100 = Cpu(q => hnsw.Search(q, 100));
        double? cRerank = null;

        Latency? rerank = null;
        if (reranker is not null && o.RerankK > 0)
        {
            log?.Invoke($"timing re-ranking of {o.RerankK} candidates with {reranker.Model.Name}");
            int len = reranker.Model.CodeLength;
            var probe = Gaussian(rng, new float[len], 1).ToArray();
            var codes = Enumerable.Range(0, o.RerankK).Select(_ => Gaussian(rng, new float[len], 1).ToArray()).ToArray();
            reranker.Compare(probe, codes[0]);   // warm-up
            var t = new double[o.RerankQueries];
            for (int q = 0; q < t.Length; q++)
            {
                sw.Restart();
                foreach (var c in codes) reranker.Compare(probe, c);
                t[q] = sw.Elapsed.TotalMilliseconds;
            }
            rerank = Stats(t);
            var c0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (int q = 0; q < t.Length; q++) foreach (var c in codes) reranker.Compare(probe, c);
            cRerank = (Process.GetCurrentProcess().TotalProcessorTime - c0).TotalMilliseconds / t.Length;
        }
        return new GalleryBenchmarkResult(o.Faces, ids, o.Dim, o.Queries, exactBuild, exactMb, hnswBuild, hnswMb,
            Stats(e10), Stats(e100), Stats(h10), Stats(h100), recall / o.Queries, sameCos, rerank, reranker?.Model.Name, o.Hnsw, Environment.ProcessorCount,
            new CpuCost(cE10, cE100, cH10, cH100, cRerank));
    }

    private static void Face(Random rng, float[] centres, int id, GalleryBenchmarkOptions o, Span<float> dst)
    {
        Gaussian(rng, dst, o.Noise / Math.Sqrt(o.Dim));
        TensorPrimitives.Add(dst, centres.AsSpan(id * o.Dim, o.Dim), dst);
        Normalise(dst);
    }

    private static Span<float> Gaussian(Random rng, Span<float> dst, double std)
    {
        for (int i = 0; i < dst.Length; i++)
            dst[i] = (float)(std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return dst;
    }

    private static void Normalise(Span<float> v)
    {
        float n = TensorPrimitives.Norm(v);
        if (n > 0) TensorPrimitives.Divide(v, n, v);
    }

    private static Latency Stats(double[] ms)
    {
        var s = ms.Order().ToArray();
        double P(double q) => s[Math.Min(s.Length - 1, (int)Math.Ceiling(q * s.Length) - 1)];
        return new Latency(P(0.5), P(0.99), s.Average());
    }
}
