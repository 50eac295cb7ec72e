using Xcos.ML.Gallery;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The file-backed gallery: enrol, remove, search, reopen, crash recovery, model stamp, compaction.</summary>
public class GalleryTests
{
    private static readonly GalleryModelStamp Model = new("test-model", "sha256:00", 8, 6);

    private static string NewPath() => Path.Combine(Directory.CreateTempSubdirectory("xcos-gallery").FullName, "faces.gallery");

    // a face near the identity's axis: identities are orthogonal-ish directions, faces small perturbations of them
    private static (float[] Emb, float[] Code) FaceOf(int identity, int photo)
    {
        var rng = new Random(identity * 1000 + photo);
        var e = new float[8];
        for (int i = 0; i < 8; i++) e[i] = (i == identity ? 5f : 0f) + (float)(rng.NextDouble() - 0.5);
        var c = Enumerable.Range(0, 6).Select(i => identity + photo / 10f + i).Select(v => (float)v).ToArray();
        return (e, c);
    }

    private static void Fill(FaceGallery g, int identities, int photos)
    {
        for (int id = 0; id < identities; id++)
            for (int p = 0; p < photos; p++)
            {
                var (e, c) = FaceOf(id, p);
                g.Enroll($"person{id}", e, c, $"person{id}/{p}.jpg");
            }
    }

    [Fact]
    public void Enrolled_faces_come_back_after_reopening_with_their_codes_and_sources()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model)) Fill(g, 3, 2);
        using var r = FaceGallery.Open(path, Model);
        Assert.Equal(6, r.FaceCount);
        Assert.Equal(["person0", "person1", "person2"], r.Identities);
        var faces = r.FacesOf("person1");
        Assert.Equal(2, faces.Count);
        Assert.Equal(FaceOf(1, 1).Code, faces[1].Code);
        Assert.Equal(FaceOf(1, 1).Emb, faces[1].Embedding);
        Assert.Equal("person1/1.jpg", faces[1].SourceFile);
        Assert.Null(r.RecoveredTail);
    }

    [Fact]
    public void Search_returns_each_identity_once_by_its_best_face_best_first()
    {
        using var g = FaceGallery.Create(NewPath(), Model);
        Fill(g, 5, 3);
        var (probe, _) = FaceOf(2, 99);
        var hits = g.Search(probe, 3);
        Assert.Equal(3, hits.Count);
        Assert.Equal("person2", hits[0].Identity);
        Assert.Equal(3, hits.Select(h => h.Identity).Distinct().Count());
        Assert.True(hits[0].Cosine >= hits[1].Cosine && hits[1].Cosine >= hits[2].Cosine);
        // the best face of person2 is the one with the highest cosine among its three
        double best = g.FacesOf("person2").Max(f => Cos(probe, f.Embedding));
        Assert.Equal(best, hits[0].Cosine, 5);
    }

    [Fact]
    public void Removing_an_identity_survives_reopening_and_compaction_keeps_the_rest()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model, new FaceGalleryOptions { CompactAfterDeadFaces = 1 }))
        {
            Fill(g, 4, 2);
            Assert.Equal(2, g.RemoveIdentity("person1"));
            Assert.Equal(0, g.RemoveIdentity("nobody"));
            long before = new FileInfo(path).Length;
            Assert.Equal(2, g.RemoveIdentity("person3"));   // 4 dead faces, 4 live: not more dead than live, so no compaction yet
            Assert.True(new FileInfo(path).Length > before);
            g.Compact();
            Assert.True(new FileInfo(path).Length < before, "compaction drops the removed faces' records");
            var (e, c) = FaceOf(1, 5);
            g.Enroll("person1", e, c, "again.jpg");   // appends after compaction land in the new file
        }
        using var r = FaceGallery.Open(path, Model);
        Assert.Equal(["person0", "person1", "person2"], r.Identities);
        Assert.Equal("again.jpg", Assert.Single(r.FacesOf("person1")).SourceFile);
        Assert.Equal(FaceOf(2, 1).Code, r.FacesOf("person2")[1].Code);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void Removals_compact_the_file_once_dead_faces_outnumber_live_ones()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model, new FaceGalleryOptions { CompactAfterDeadFaces = 1 }))
        {
            Fill(g, 3, 2);
            long full = new FileInfo(path).Length;
            g.RemoveIdentity("person0");                      // 2 dead, 4 live: kept
            Assert.True(new FileInfo(path).Length > full);
            g.RemoveIdentity("person1");                      // 4 dead, 2 live: compacted
            Assert.True(new FileInfo(path).Length < full / 2);
        }
        using var r = FaceGallery.Open(path, Model);
        Assert.Equal(["person2"], r.Identities);
        Assert.Equal(FaceOf(2, 1).Code, r.FacesOf("person2")[1].Code);
    }

    [Fact]
    public void Opening_with_another_model_is_a_clear_error()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model)) Fill(g, 1, 1);
        var other = Model with { Hash = "sha256:11" };
        var e = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, other));
        Assert.Contains(path, e.Message);
        Assert.Contains("test-model", e.Message);
        Assert.Contains("sha256:11", e.Message);
    }

    [Fact]
    public void Codes_of_another_xcos_variant_are_refused_in_one_line_naming_both()
    {
        var path = NewPath();
        var learned = Model with { Codes = GalleryModelStamp.MapCodes + "507" };
        using (var g = FaceGallery.Create(path, learned)) Fill(g, 1, 1);
        using (var again = FaceGallery.Open(path, learned)) Assert.Equal("map:507", again.Model.Codes);
        var e = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("enrolled with --xcos learned", e.Message);
        Assert.Contains("this search uses --xcos weights", e.Message);
    }

    [Fact]
    public void A_version_1_file_reads_as_the_models_own_codes_and_compaction_writes_version_2()
    {
        // a version-1 header (no codes field) and one face, as builds before version 2 wrote them
        var path = NewPath();
        var (emb, code) = FaceOf(0, 0);
        using (var f = File.Create(path))
        {
            f.Write(GalleryFileFormat.Magic);
            f.Write(Frame(w =>
            {
                w.Write((byte)1); w.Write(1); Str(w, Model.Name); Str(w, Model.Hash); w.Write(Model.EmbeddingDim); w.Write(Model.CodeLength); w.Write(1_700_000_000L);
            }));
            f.Write(Frame(w =>
            {
                w.Write((byte)2); w.Write(0L); Str(w, "person0"); Str(w, "a.jpg");
                w.Write(emb.Length); foreach (var v in emb) w.Write(v);
                w.Write(code.Length); foreach (var v in code) w.Write(v);
            }));
        }
        using (var g = FaceGallery.Open(path, Model))
        {
            Assert.Equal(GalleryModelStamp.ModelCodes, g.Model.Codes);
            Assert.Equal(code, g.FacesOf("person0")[0].Code);
            g.Compact();
        }
        Assert.Equal(2, BitConverter.ToInt32(File.ReadAllBytes(path), 8 + 4 + 1));
        using (var reopened = FaceGallery.Open(path, Model)) Assert.Equal(code, reopened.FacesOf("person0")[0].Code);
        Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model with { Codes = "map:507" }));
    }

    private static void Str(BinaryWriter w, string s)
    {
        var b = System.Text.Encoding.UTF8.GetBytes(s);
        w.Write(b.Length);
        w.Write(b);
    }

    private static byte[] Frame(Action<BinaryWriter> body)
    {
        using var m = new MemoryStream();
        using (var w = new BinaryWriter(m, System.Text.Encoding.UTF8, leaveOpen: true)) body(w);
        var bytes = m.ToArray();
        return [.. BitConverter.GetBytes(bytes.Length), .. bytes, .. BitConverter.GetBytes(Crc32.Compute(bytes))];
    }

    [Fact]
    public void A_crash_inside_the_last_record_loses_only_that_record_at_every_cut_point()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model)) Fill(g, 2, 2);
        long complete = new FileInfo(path).Length;
        using (var g = FaceGallery.Open(path, Model)) { var (e, c) = FaceOf(7, 0); g.Enroll("late", e, c, "late.jpg"); }
        var full = File.ReadAllBytes(path);
        // every length between the last complete record and the full file is a crash mid-write
        for (long cut = complete + 1; cut < full.Length; cut += 7)
        {
            File.WriteAllBytes(path, full.AsSpan(0, (int)cut).ToArray());
            using (var g = FaceGallery.Open(path, Model))
            {
                Assert.Equal(4, g.FaceCount);
                Assert.NotNull(g.RecoveredTail);
                var (e, c) = FaceOf(3, 3);
                g.Enroll("after", e, c, "after.jpg");
            }
            using var again = FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true });
            Assert.Equal(5, again.FaceCount);
            Assert.Null(again.RecoveredTail);
            Assert.Equal(FaceOf(3, 3).Code, again.FacesOf("after")[0].Code);
        }
    }

    [Fact]
    public void A_bad_checksum_before_the_last_record_is_corruption_not_a_crash()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model)) Fill(g, 2, 2);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model));
        Assert.Contains("checksum", e.Message);
        Assert.Equal(bytes, File.ReadAllBytes(path));   // nothing was truncated
    }

    [Fact]
    public void Create_refuses_to_overwrite_and_open_refuses_a_non_gallery()
    {
        var path = NewPath();
        File.WriteAllText(path, "not a gallery");
        Assert.Throws<IOException>(() => FaceGallery.Create(path, Model));
        Assert.Equal("not a gallery", File.ReadAllText(path));
        Assert.Contains("XCOSGAL1", Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model)).Message);
    }

    [Fact]
    public void A_second_writer_is_refused_while_the_first_holds_the_file()
    {
        var path = NewPath();
        using var g = FaceGallery.Create(path, Model);
        Assert.Throws<IOException>(() => FaceGallery.Open(path, Model));
    }

    [Fact]
    public void Hnsw_and_exact_galleries_answer_alike_on_well_separated_identities()
    {
        var exact = FaceGallery.Create(NewPath(), Model, new FaceGalleryOptions { Index = GalleryIndexKind.Exact });
        var hnsw = FaceGallery.Create(NewPath(), Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw });
        using (exact) using (hnsw)
        {
            Fill(exact, 8, 3);
            Fill(hnsw, 8, 3);
            Assert.Equal(GalleryIndexKind.Hnsw, hnsw.IndexKind);
            Assert.Equal(GalleryIndexKind.Exact, exact.IndexKind);
            for (int id = 0; id < 8; id++)
            {
                var (probe, _) = FaceOf(id, 50);
                Assert.Equal(exact.Search(probe, 3).Select(h => h.Identity), hnsw.Search(probe, 3).Select(h => h.Identity));
            }
            hnsw.RemoveIdentity("person4");
            Assert.DoesNotContain(hnsw.Search(FaceOf(4, 50).Emb, 8), h => h.Identity == "person4");
        }
    }

    private static double Cos(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }
}
