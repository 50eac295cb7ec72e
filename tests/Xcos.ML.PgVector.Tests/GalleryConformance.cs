using Xcos.ML.Gallery;

namespace Xcos.ML.PgVector.Tests;

/// <summary>
/// What every <see cref="IFaceGallery"/> must do, run against the file gallery and the database gallery alike (through
/// <see cref="FaceGalleries"/>, the factory every entry point uses): faces come back whole, re-enrolling a photo adds
/// nothing, another model is refused, a search returns each identity's best face as an exact scan does, removal and
/// reopening keep what was committed.
/// </summary>
public abstract class GalleryConformance
{
    protected static readonly GalleryModelStamp ModelA = new("test-model-a", "sha256:aa", 8, 6);
    protected static readonly GalleryModelStamp ModelB = new("test-model-b", "sha256:bb", 8, 6);

    /// <summary>A location for a new, empty gallery.</summary>
    protected abstract string NewLocation();

    private static float[] Vec(Random r, int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();

    [GalleryFact]
    public void Enrolled_faces_come_back_whole_and_survive_a_reopen()
    {
        var at = NewLocation();
        var r = new Random(1);
        var faces = new List<(string Who, float[] E, float[] C, string S)>();
        using (var g = FaceGalleries.Open(at, ModelA, GalleryOpenMode.OpenOrCreate))
        {
            foreach (var who in new[] { "zoe", "adam", "adam" })
            {
                var f = (who, Vec(r, 8), Vec(r, 6), $"mem:{who}/{faces.Count}.jpg");
                faces.Add(f);
                var stored = g.Enroll(f.who, f.Item2, f.Item3, f.Item4);
                Assert.Equal(f.Item2, stored.Embedding);
                Assert.Equal(f.Item3, stored.Code);
            }
            Assert.Equal(3, g.FaceCount);
        }
        using var again = FaceGalleries.Open(at, ModelA, GalleryOpenMode.ReadOnly);
        Assert.Equal(ModelA, again.Model);
        Assert.Equal(["adam", "zoe"], again.Identities);
        var adam = again.FacesOf("adam");
        Assert.Equal(2, adam.Count);
        Assert.Equal(faces[1].E, adam[0].Embedding);
        Assert.Equal(faces[1].C, adam[0].Code);
        Assert.Equal(faces[1].S, adam[0].SourceFile);
        Assert.Equal(faces[2].C, adam[1].Code);
        Assert.Empty(again.FacesOf("nobody"));
        Assert.Throws<InvalidOperationException>(() => again.Enroll("x", faces[0].E, faces[0].C, "x"));
    }

    [GalleryFact]
    public void Enrolling_the_same_photo_again_adds_nothing()
    {
        using var g = FaceGalleries.Open(NewLocation(), ModelA, GalleryOpenMode.OpenOrCreate);
        var r = new Random(2);
        float[] e = Vec(r, 8), c = Vec(r, 6);
        var first = g.Enroll("ann", e, c, "mem:ann.jpg");
        var second = g.Enroll("ann", e, c, "mem:ann.jpg");
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(1, g.FaceCount);
        // the same photo under another identity is another face
        g.Enroll("bob", e, c, "mem:ann.jpg");
        Assert.Equal(2, g.FaceCount);
    }

    [GalleryFact]
    public void A_gallery_of_another_model_is_refused_naming_both()
    {
        var at = NewLocation();
        using (var g = FaceGalleries.Open(at, ModelA, GalleryOpenMode.OpenOrCreate)) g.Enroll("ann", Vec(new Random(3), 8), Vec(new Random(4), 6), "mem:a");
        var e = Assert.Throws<InvalidDataException>(() => FaceGalleries.Open(at, ModelB, GalleryOpenMode.ReadOnly));
        Assert.Contains("test-model-a", e.Message, StringComparison.Ordinal);
        Assert.Contains("test-model-b", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        var wider = ModelA with { EmbeddingDim = 16 };
        Assert.Throws<InvalidDataException>(() => FaceGalleries.Open(at, wider, GalleryOpenMode.OpenOrCreate));
    }

    [GalleryFact]
    public void Wrong_lengths_are_refused_and_store_nothing()
    {
        using var g = FaceGalleries.Open(NewLocation(), ModelA, GalleryOpenMode.OpenOrCreate);
        Assert.Throws<ArgumentException>(() => g.Enroll("ann", new float[7], new float[6], "mem:a"));
        Assert.Throws<ArgumentException>(() => g.Enroll("ann", new float[8], new float[6], "mem:zero"));
        Assert.Throws<ArgumentException>(() => g.Search(new float[5], 3));
        Assert.Equal(0, g.FaceCount);
    }

    [GalleryFact]
    public void Search_returns_each_identitys_best_face_as_an_exact_scan_does()
    {
        using var g = FaceGalleries.Open(NewLocation(), ModelA, GalleryOpenMode.OpenOrCreate);
        var r = new Random(5);
        var stored = new List<GalleryFace>();
        for (int i = 0; i < 60; i++) stored.Add(g.Enroll($"p{i % 12:D2}", Vec(r, 8), Vec(r, 6), $"mem:{i}"));
        for (int q = 0; q < 10; q++)
        {
            var probe = Vec(r, 8);
            var expected = stored.GroupBy(f => f.Identity)
                .Select(grp => grp.Select(f => (f, Cos: Cosine(probe, f.Embedding))).MaxBy(x => x.Cos))
                .OrderByDescending(x => x.Cos).Take(5).ToList();
            var got = g.Search(probe, 5);
            Assert.Equal(expected.Select(x => x.f.Identity), got.Select(c => c.Identity));
            Assert.Equal(expected.Select(x => x.f.Id), got.Select(c => c.BestFace.Id));
            for (int i = 0; i < got.Count; i++) Assert.Equal(expected[i].Cos, got[i].Cosine, 5);
            Assert.Equal(expected[0].f.Code, got[0].BestFace.Code);
        }
        // more identities asked for than enrolled: all of them
        Assert.Equal(12, g.Search(Vec(r, 8), 50).Count);
    }

    [GalleryFact]
    public void Removing_an_identity_removes_its_faces_for_good()
    {
        var at = NewLocation();
        var r = new Random(6);
        using (var g = FaceGalleries.Open(at, ModelA, GalleryOpenMode.OpenOrCreate))
        {
            g.Enroll("ann", Vec(r, 8), Vec(r, 6), "mem:1");
            g.Enroll("ann", Vec(r, 8), Vec(r, 6), "mem:2");
            g.Enroll("bob", Vec(r, 8), Vec(r, 6), "mem:3");
            Assert.Equal(2, g.RemoveIdentity("ann"));
            Assert.Equal(0, g.RemoveIdentity("ann"));
            Assert.All(g.Search(Vec(r, 8), 5), c => Assert.Equal("bob", c.Identity));
        }
        using var again = FaceGalleries.Open(at, ModelA, GalleryOpenMode.ReadWrite);
        Assert.Equal(["bob"], again.Identities);
        Assert.Equal(1, again.FaceCount);
    }

    internal static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }
}

/// <summary>
/// A conformance fact. The suite is one suite for both galleries, so it runs on both or (without PGlite: no node or
/// npm packages, and XCOS_PGLITE unset) on neither, with that reason.
/// </summary>
public sealed class GalleryFactAttribute : FactAttribute
{
    public GalleryFactAttribute() { if (PgServers.PgliteDir() is null) Skip = "the gallery conformance suite runs on the file and the database gallery together; " + PgServers.NoPglite; }
}

/// <summary>The conformance suite on the file gallery.</summary>
public sealed class FileGalleryConformanceTests : GalleryConformance
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-conf").FullName;
    private int _n;

    protected override string NewLocation() => Path.Combine(_dir, $"g{++_n}.gallery");
}

/// <summary>The conformance suite on the database gallery, against the collection's PGlite server.</summary>
[Collection(PgCollection.Name)]
public sealed class PgVectorGalleryConformanceTests(PgliteServer server) : GalleryConformance
{
    protected override string NewLocation()
    {
        PgVectorGalleryProvider.Register();
        return server.NewGallery("conf");
    }
}
