using Xcos.Cli.Benchmarks;
using Xcos.ML.Gallery;
using Xunit;

namespace Xcos.Cli.Tests;

/// <summary>The synthetic 1:N benchmark on a tiny gallery: one graph timed at several search expansions.</summary>
public class GalleryBenchmarkTests
{
    [Fact]
    public void One_graph_is_timed_at_each_search_expansion_with_recall_against_the_exact_scan()
    {
        var lines = new List<string>();
        var r = GalleryBenchmark.Run(new GalleryBenchmarkOptions
        {
            Faces = 2000, FacesPerIdentity = 10, Dim = 32, Queries = 40, ExactTimedQueries = 10,
            Hnsw = new HnswSettings(Threads: 2, Quantization: HnswQuantization.BFloat16), ExpansionSearch = [16, 128],
        }, log: lines.Add);
        Assert.Equal([16, 128], r.Search.Select(s => s.ExpansionSearch));
        Assert.Equal(10, r.ExactTimedQueries);
        Assert.Equal(2, r.BuildThreads);
        Assert.Equal(200, r.Identities);
        Assert.All(r.Search, s => Assert.InRange(s.RecallAt10, 0.0, 1.0));
        Assert.True(r.Search[1].RecallAt10 >= 0.95, $"recall@10 at ef 128: {r.Search[1].RecallAt10}");
        Assert.True(r.Search[1].RecallAt10 >= r.Search[0].RecallAt10 - 0.05, "a wider search should not find fewer");
        Assert.InRange(r.SameIdentityCosine, 0.2, 0.9);
        Assert.True(r.HnswMegabytes > 2000 * 32 * 2 / 1048576.0, $"graph {r.HnswMegabytes} MB");
        Assert.True(r.PeakMegabytes > 0);
        Assert.Contains(lines, l => l.Contains("2,000 added"));
        Assert.Throws<ArgumentException>(() => GalleryBenchmark.Run(new GalleryBenchmarkOptions { Faces = 100, FacesPerIdentity = 1 }));
    }

    [Fact]
    public void A_saved_graph_is_reused_by_the_next_run_and_the_recall_target_picks_a_timed_expansion()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-bench-graph").FullName;
        GalleryBenchmarkOptions Options() => new()
        {
            Faces = 1500, FacesPerIdentity = 10, Dim = 32, Queries = 30, ExactTimedQueries = 5, RerankK = 0,
            Hnsw = new HnswSettings(Threads: 2), ExpansionSearch = [32], GraphDirectory = dir, Recall = 0.99,
        };
        var first = GalleryBenchmark.Run(Options());
        var graph = Path.Combine(dir, GalleryBenchmark.GraphFileName(Options(), Options().Hnsw!));
        Assert.Equal($"built, saved to {graph}", first.GraphOrigin);
        var written = File.GetLastWriteTimeUtc(graph);
        var lines = new List<string>();
        var second = GalleryBenchmark.Run(Options(), log: lines.Add);
        Assert.Equal($"loaded from {graph}", second.GraphOrigin);
        Assert.Contains($"loaded the HNSW graph from {graph} (no rebuild)", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("building the HNSW index", StringComparison.Ordinal));
        Assert.Equal(written, File.GetLastWriteTimeUtc(graph));
        // the calibrated expansion is timed with the fresh queries next to the asked one
        Assert.Equal(second.CalibratedExpansion, second.Hnsw.ExpansionSearch);
        Assert.Contains(second.Search, s => s.ExpansionSearch == second.CalibratedExpansion);
        Assert.Contains(second.Search, s => s.ExpansionSearch == 32);
        Assert.True(second.Search.First(s => s.ExpansionSearch == second.CalibratedExpansion).RecallAt10 >= 0.97);
        // other faces (another seed) are not served the saved graph
        var other = Options();
        other.Seed = 2;
        Assert.StartsWith("built", GalleryBenchmark.Run(other).GraphOrigin);
    }
}
