using System.Diagnostics;
using System.Numerics.Tensors;
using Xcos.ML.Gallery;

namespace Xcos.Cli.Benchmarks;

/// <summary>What <see cref="GalleryStoreBenchmark.Run"/> measured on one gallery.</summary>
/// <param name="Gallery">The gallery, as it may be printed.</param>
/// <param name="Faces">Faces enrolled.</param>
/// <param name="Identities">Identities they belong to.</param>
/// <param name="EnrolPerSecond">Faces enrolled per second, one <see cref="IFaceGallery.Enroll(string, float[], float[], string)"/> call (one durable commit) each.</param>
/// <param name="Identify">Wall-clock latency of <see cref="IFaceGallery.Search"/> for the top 10 identities.</param>
/// <param name="RecallAt10">Mean share of the exact top-10 identities (by each identity's best face, exhaustive scan) the search found.</param>
/// <param name="Queries">Timed queries.</param>
internal sealed record GalleryStoreBenchmarkResult(string Gallery, int Faces, int Identities, double EnrolPerSecond, Latency Identify, double RecallAt10, int Queries);

/// <summary>
/// Benchmarks a gallery through <see cref="IFaceGallery"/> alone, so a file gallery and a database gallery are measured
/// the same way: enrol clustered synthetic faces (<see cref="GalleryBenchmark"/>'s generator, with small random codes),
/// then time top-10 identity searches and score them against an exhaustive scan done here.
/// </summary>
internal static class GalleryStoreBenchmark
{
    /// <summary>The model stamp of the synthetic faces: <paramref name="dim"/>-d embeddings, 64-float codes.</summary>
    public static GalleryModelStamp Model(int dim) => new($"bench-clustered-{dim}", "sha256:synthetic", dim, 64);

    /// <summary>Fills the empty <paramref name="gallery"/> with <c>o.Faces</c> faces and times searches.</summary>
    /// <exception cref="ArgumentException">The gallery is not empty, or not of <see cref="Model"/>.</exception>
    public static GalleryStoreBenchmarkResult Run(IFaceGallery gallery, string name, GalleryBenchmarkOptions o, Action<int>? enrolled = null)
    {
        ArgumentNullException.ThrowIfNull(gallery);
        ArgumentNullException.ThrowIfNull(o);
        if (gallery.FaceCount != 0) throw new ArgumentException($"{name}: the benchmark fills an empty gallery; this one holds {gallery.FaceCount} faces");
        if (gallery.Model != Model(o.Dim)) throw new ArgumentException($"{name}: the benchmark's gallery must be made for {Model(o.Dim).Name}");
        int ids = Math.Max(1, o.Faces / o.FacesPerIdentity);
        var rng = new Random(o.Seed);
        var centres = new float[(long)ids * o.Dim];
        for (int i = 0; i < ids; i++) GalleryBenchmark.Normalise(GalleryBenchmark.Gaussian(rng, centres.AsSpan(i * o.Dim, o.Dim), 1));
        var faces = new float[o.Faces][];
        var code = new float[Model(o.Dim).CodeLength];
        var sw = Stopwatch.StartNew();
        for (int f = 0; f < o.Faces; f++)
        {
            faces[f] = new float[o.Dim];
            GalleryBenchmark.Face(rng, centres, f % ids, o, faces[f]);
            GalleryBenchmark.Gaussian(rng, code, 1);
            gallery.Enroll($"id{f % ids:D7}", faces[f], code, $"synthetic:{f}");
            enrolled?.Invoke(f + 1);
        }
        double enrolSeconds = sw.Elapsed.TotalSeconds;
        var ms = new double[o.Queries];
        double recall = 0;
        for (int q = 0; q < o.Queries; q++)
        {
            var probe = new float[o.Dim];
            GalleryBenchmark.Face(rng, centres, rng.Next(ids), o, probe);
            sw.Restart();
            var got = gallery.Search(probe, 10);
            ms[q] = sw.Elapsed.TotalMilliseconds;
            // the truth: each identity's best face by an exhaustive scan (the faces are unit vectors)
            var best = new Dictionary<int, float>();
            for (int f = 0; f < o.Faces; f++)
            {
                float c = TensorPrimitives.Dot<float>(probe, faces[f]);
                int id = f % ids;
                if (!best.TryGetValue(id, out var b) || c > b) best[id] = c;
            }
            var truth = best.OrderByDescending(kv => kv.Value).Take(10).Select(kv => $"id{kv.Key:D7}").ToHashSet(StringComparer.Ordinal);
            recall += got.Count(c => truth.Contains(c.Identity)) / (double)truth.Count;
        }
        return new GalleryStoreBenchmarkResult(name, o.Faces, ids, o.Faces / enrolSeconds, GalleryBenchmark.Stats(ms), recall / o.Queries, o.Queries);
    }
}
