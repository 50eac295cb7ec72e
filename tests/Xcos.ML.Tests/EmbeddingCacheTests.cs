using Xcos.ML.FaceModels;
using Xunit;

namespace Xcos.ML.Tests;

public class EmbeddingCacheTests
{
    private static readonly Dictionary<string, byte[]> Files = new()
    {
        ["a.jpg"] = [1, 2, 3],
        ["b.jpg"] = [4, 5, 6],
        ["copy_of_a.jpg"] = [1, 2, 3],
    };

    [Fact]
    public void EachDistinctImageIsComputedOnce_ByIdAndByContent()
    {
        var cache = new EmbeddingCache<string>();
        int reads = 0, computes = 0;
        string Get(string id) => cache.GetOrAdd(id, () => { reads++; return Files[id]; }, b => { computes++; return $"emb({string.Join(",", b)})"; });
        // 3,000-pair style reuse: every image appears in many pairs.
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal("emb(1,2,3)", Get("a.jpg"));
            Assert.Equal("emb(4,5,6)", Get("b.jpg"));
        }
        Assert.Equal("emb(1,2,3)", Get("copy_of_a.jpg"));
        Assert.Equal(2, computes);
        Assert.Equal(3, reads);  // each id read once; the copy is read to hash it, then reuses a.jpg's result
        Assert.Equal(2, cache.Misses);
        Assert.Equal(99, cache.Hits);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void CapacityBoundsMemory_DroppingTheLeastRecentlyUsed()
    {
        var cache = new EmbeddingCache<int>(capacity: 2);
        int computes = 0;
        int Get(string id, byte b) => cache.GetOrAdd(id, () => [b], x => { computes++; return x[0]; });
        Get("1", 1); Get("2", 2);
        Get("1", 1);           // 1 is now the most recent
        Get("3", 3);           // drops 2
        Assert.Equal(2, cache.Count);
        Assert.Equal(3, computes);
        Assert.Equal(1, Get("1", 1));
        Assert.Equal(3, computes);
        Assert.Equal(2, Get("2", 2));  // dropped, so computed again
        Assert.Equal(4, computes);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EmbeddingCache<int>(0));
    }

    [Fact]
    public void FailedReadsAreNotCached()
    {
        var cache = new EmbeddingCache<int>();
        Assert.Throws<IOException>(() => cache.GetOrAdd("x", () => throw new IOException("x: not found"), _ => 1));
        Assert.Equal(7, cache.GetOrAdd("x", () => [7], b => b[0]));
        Assert.Equal(1, cache.Misses);
    }
}
