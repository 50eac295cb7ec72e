using System.Numerics.Tensors;
using Xcos.ML.Gallery;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>
/// The search expansion chosen for a recall target: measured on sampled members against an exact scan, kept next to a
/// gallery's graph, loaded by a read-only open.
/// </summary>
public class HnswRecallCalibrationTests
{
    private static float[] RandomUnits(int n, int dim, int seed)
    {
        var rng = new Random(seed);
        var v = new float[n * dim];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < n; i++) { var r = v.AsSpan(i * dim, dim); TensorPrimitives.Divide(r, TensorPrimitives.Norm(r), r); }
        return v;
    }

    // recall@10 of the graph at ef for fresh queries, the exact scan as the truth
    private static double FreshRecall(HnswVectorIndex graph, ExactVectorIndex exact, int ef, float[] queries, int dim)
    {
        graph.ExpansionSearch = ef;
        double found = 0;
        int n = queries.Length / dim;
        for (int q = 0; q < n; q++)
        {
            var query = queries.AsSpan(q * dim, dim);
            var truth = exact.Search(query, 10).Select(x => x.Key).ToHashSet();
            found += graph.Search(query, 10).Count(x => truth.Contains(x.Key));
        }
        return found / (n * 10.0);
    }

    [Fact]
    public void The_expansion_follows_the_recall_target_and_reaches_it_for_fresh_queries()
    {
        const int n = 4000, dim = 48;
        var data = RandomUnits(n, dim, 1);
        using var exact = ExactVectorIndex.Over(data, n, dim);
        // a sparse graph on uniform random vectors, so that small expansions miss neighbours
        using var graph = new HnswVectorIndex(dim, new HnswSettings(Connectivity: 8, ExpansionAdd: 32, Threads: 1));
        graph.AddRange(Enumerable.Range(0, n).Select(i => (long)i).ToArray(), data, 1);
        var c = HnswRecallCalibration.Calibrate(graph, n, i => i, i => data.AsSpan(i * dim, dim), samples: 200);
        Assert.Equal(128, graph.ExpansionSearch);   // restored
        Assert.Equal(200, c.Samples);
        Assert.True(c.Points[0].RecallAt10 < 0.9, $"ef {c.Points[0].ExpansionSearch} already finds {c.Points[0].RecallAt10}: the test graph is too easy; {string.Join(", ", c.Points)}");
        int loose = c.ExpansionFor(0.8), strict = c.ExpansionFor(0.99);
        Assert.True(loose < strict, $"ef {loose} for 0.8, {strict} for 0.99");
        var queries = RandomUnits(200, dim, 2);
        foreach (var target in new[] { 0.8, 0.95, 0.99 })
        {
            var point = c.PointFor(target);
            Assert.True(point.RecallAt10 >= HnswRecallCalibration.SampleTarget(target), $"{point} for {target}: {string.Join(", ", c.Points)}");
            double fresh = FreshRecall(graph, exact, point.ExpansionSearch, queries, dim);
            Assert.True(fresh >= target - 0.01, $"{string.Join(", ", c.Points)}: fresh queries' recall@10 {fresh} at the ef {point.ExpansionSearch} calibrated for {target}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => c.ExpansionFor(1.5));
    }

    [Fact]
    public void The_saved_calibration_is_read_back_only_for_its_own_graph()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-recall").FullName, "g.hnsw.recall");
        var c = new HnswCalibration(5000, 100, [new RecallPoint(16, 0.7), new RecallPoint(64, 0.996), new RecallPoint(128, 1)]);
        var digest = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        HnswRecallCalibration.Save(path, c, digest);
        var back = HnswRecallCalibration.TryLoad(path, digest, out _)!;
        Assert.Equal((c.Faces, c.Samples), (back.Faces, back.Samples));
        Assert.Equal(c.Points, back.Points);
        Assert.Equal(64, back.ExpansionFor(0.99));
        Assert.Null(HnswRecallCalibration.TryLoad(path, new byte[32], out var why));
        Assert.Contains("measured on another graph", why);
        var bytes = File.ReadAllBytes(path);
        bytes[62] ^= 1;
        File.WriteAllBytes(path, bytes);
        Assert.Null(HnswRecallCalibration.TryLoad(path, digest, out why));
        Assert.Equal($"{path}: checksum fails", why);
        Assert.True(c.Fits(5400) && !c.Fits(5600) && !c.Fits(4400));
    }

    private static readonly GalleryModelStamp Model = new("test-model", "sha256:00", 24, 2);

    [Fact]
    public void A_gallery_searches_at_the_calibrated_expansion_and_keeps_the_calibration_next_to_its_graph()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-recall").FullName, "faces.gallery");
        var data = RandomUnits(600, 24, 3);
        // default graph settings: chosen by size, the expansion by the default recall target
        var options = new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw };
        HnswCalibration measured;
        using (var g = FaceGallery.Create(path, Model, options))
        {
            for (int i = 0; i < 600; i++) g.Enroll($"p{i}", data.AsSpan(i * 24, 24).ToArray(), [i, 0], $"{i}.jpg");
            Assert.Equal(GalleryIndexChoice.SettingsFor(0), g.HnswSettings);
            Assert.Equal(0.99, g.RecallTarget);
            Assert.Null(g.Calibration);
            g.Search(data.AsSpan(0, 24), 5);
            measured = g.Calibration!;
            Assert.Equal("measured on 100 members", g.CalibrationOrigin);
        }
        var file = HnswRecallCalibration.PathFor(path);
        Assert.True(File.Exists(file));
        var written = File.GetLastWriteTimeUtc(file);
        using (var r = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true }))
        {
            Assert.StartsWith("loaded 600 faces", r.IndexOrigin);
            Assert.Equal($"loaded from {file}", r.CalibrationOrigin);
            Assert.Equal(measured.Points, r.Calibration!.Points);
            Assert.Equal("p7", r.Search(data.AsSpan(7 * 24, 24), 1)[0].Identity);
        }
        Assert.Equal(written, File.GetLastWriteTimeUtc(file));
        // a fixed expansion (settings given, no target) measures nothing
        using var fixedEf = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, Hnsw = new HnswSettings(), ReadOnly = true });
        Assert.Null(fixedEf.RecallTarget);
        fixedEf.Search(data.AsSpan(0, 24), 5);
        Assert.Null(fixedEf.Calibration);
    }
}
