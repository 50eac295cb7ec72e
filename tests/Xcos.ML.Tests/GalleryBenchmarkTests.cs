using Xcos.ML.Gallery;
using Xunit;

namespace Xcos.ML.Tests;

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
}
