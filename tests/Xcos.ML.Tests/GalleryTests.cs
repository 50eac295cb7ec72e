using System.IO.Hashing;
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
    public void A_version_1_file_reads_as_the_models_own_codes_and_compaction_writes_the_current_version()
    {
        // a version-1 header (no codes field) and one face, as builds before version 2 wrote them
        var path = NewPath();
        var (emb, code) = FaceOf(0, 0);
        using (var f = File.Create(path))
        {
            f.Write("XCOSGAL1"u8);
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
        var bytes = File.ReadAllBytes(path);
        Assert.Equal($"XCOSGAL{GalleryFileFormat.Version}", System.Text.Encoding.ASCII.GetString(bytes, 0, 8));
        Assert.Equal(GalleryFileFormat.Version, BitConverter.ToInt32(bytes, 8 + 8 + 1));   // magic, length and its checksum, record type
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
        return [.. BitConverter.GetBytes(bytes.Length), .. bytes, .. BitConverter.GetBytes(Crc32.HashToUInt32(bytes))];
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

    // offsets of every record after the magic, read from the frames of either format version
    internal static List<long> RecordOffsets(byte[] file)
    {
        int extra = file[7] == (byte)'1' ? 0 : 4;   // version 2 frames carry the length's own CRC-32
        var offsets = new List<long>();
        for (long pos = 8; pos < file.Length; pos += 4 + extra + BitConverter.ToUInt32(file, (int)pos) + 4) offsets.Add(pos);
        return offsets;
    }

    [Fact]
    public void A_flipped_bit_in_a_middle_records_length_is_refused_truncates_nothing_and_salvage_keeps_the_rest()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model)) Fill(g, 6, 5);
        var bytes = File.ReadAllBytes(path);
        long at = RecordOffsets(bytes)[10];   // the header, then faces: record 10 is person1's 5th face
        bytes[at + 2] ^= 0x80;                // the repro: the length now runs past the end of the file
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model));
        Assert.Contains($"xcos gallery salvage --gallery {path}", e.Message);
        Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true }));
        Assert.Equal(bytes, File.ReadAllBytes(path));   // refused, nothing truncated

        var report = FaceGallery.Salvage(path);
        Assert.Equal(29, report.Faces);
        Assert.Equal(1, report.DamagedRanges);
        Assert.Equal(bytes, File.ReadAllBytes(report.DamagedCopy));   // the damaged file is kept as it was
        using var r = FaceGallery.Open(path, Model);
        Assert.Equal(29, r.FaceCount);
        Assert.Equal(4, r.FacesOf("person1").Count);
        Assert.Equal(FaceOf(5, 4).Code, r.FacesOf("person5")[4].Code);
    }

    [Fact]
    public void Salvage_skips_records_whose_checksum_fails_and_keeps_removals()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model))
        {
            Fill(g, 4, 3);
            g.RemoveIdentity("person3");
        }
        var bytes = File.ReadAllBytes(path);
        var offsets = RecordOffsets(bytes);
        bytes[offsets[2] + 20] ^= 0x01;   // a body bit of person0's 2nd face
        bytes[offsets[7] + 1] ^= 0x10;    // the length of person2's 1st face
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true }));
        var report = FaceGallery.Salvage(path);
        Assert.Equal(2, report.DamagedRanges);
        using var r = FaceGallery.Open(path, Model);
        Assert.Equal(["person0", "person1", "person2"], r.Identities);   // person3's removal still holds
        Assert.Equal(7, r.FaceCount);
    }

    [Fact]
    public void A_damaged_last_record_header_is_corruption_but_a_cut_one_is_a_crash()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model)) Fill(g, 2, 2);
        var bytes = File.ReadAllBytes(path);
        long last = RecordOffsets(bytes)[^1];
        var flipped = (byte[])bytes.Clone();
        flipped[last + 3] ^= 0x04;   // the last record's length: no longer provably a cut tail
        File.WriteAllBytes(path, flipped);
        Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model));
        Assert.Equal(flipped, File.ReadAllBytes(path));
        File.WriteAllBytes(path, bytes.AsSpan(0, (int)last + 30).ToArray());   // a crash inside the last record
        using var g2 = FaceGallery.Open(path, Model);
        Assert.Equal(3, g2.FaceCount);
        Assert.NotNull(g2.RecoveredTail);
    }

    [Fact]
    public void A_gallery_written_in_format_version_1_opens_takes_new_faces_and_compacts_to_the_current_version()
    {
        // TestData/gallery-v1.gal was written by the version 1 writer: 6 faces of 3 people, then person2 removed
        var path = NewPath();
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "gallery-v1.gal"), path);
        using (var g = FaceGallery.Open(path, Model))
        {
            Assert.Equal(["person0", "person1"], g.Identities);
            Assert.Equal(new float[] { 1.1f, 2.1f, 3.1f, 4.1f, 5.1f, 6.1f }, g.FacesOf("person1")[1].Code);
            var (e, c) = FaceOf(4, 0);
            g.Enroll("late", e, c, "late.jpg");
        }
        using (var g = FaceGallery.Open(path, Model))
        {
            Assert.Equal(5, g.FaceCount);
            g.Compact();
        }
        Assert.Equal((byte)('0' + GalleryFileFormat.Version), File.ReadAllBytes(path)[7]);
        using var again = FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true });
        Assert.Equal(FaceOf(4, 0).Code, again.FacesOf("late")[0].Code);
        Assert.Equal(5, again.FaceCount);
    }

    [Fact]
    public void A_cut_tail_of_a_version_1_gallery_is_dropped_but_a_flipped_length_before_valid_records_is_refused()
    {
        var path = NewPath();
        var v1 = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "gallery-v1.gal"));
        var offsets = RecordOffsets(v1);
        var flipped = (byte[])v1.Clone();
        flipped[offsets[3] + 2] ^= 0x80;
        File.WriteAllBytes(path, flipped);
        Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, Model));
        Assert.Equal(flipped, File.ReadAllBytes(path));
        File.WriteAllBytes(path, v1.AsSpan(0, v1.Length - 3).ToArray());
        using var g = FaceGallery.Open(path, Model);
        Assert.NotNull(g.RecoveredTail);
        Assert.Equal(6, g.FaceCount);   // the cut record was person2's removal
    }

    [Fact]
    public void A_huge_top_is_clamped_to_the_identities_held()
    {
        using var g = FaceGallery.Create(NewPath(), Model);
        Fill(g, 3, 2);
        // FaceIdentifier asks for max(top, shortlist): `identify --top 2147483647` arrives here as int.MaxValue
        Assert.Equal(3, g.Search(FaceOf(1, 9).Emb, int.MaxValue).Count);
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
    public void A_reader_opens_while_a_writer_holds_the_file_and_reads_what_was_committed_when_it_opened()
    {
        var path = NewPath();
        using var writer = FaceGallery.Create(path, Model);
        Fill(writer, 3, 2);
        // `identify` while `enroll` runs: was the raw .NET sharing violation
        using (var reader = FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true }))
        {
            Assert.Equal(6, reader.FaceCount);
            var (e, c) = FaceOf(5, 0);
            writer.Enroll("person5", e, c, "person5/0.jpg");
            Assert.Equal(6, reader.FaceCount);
            Assert.Equal("person1", reader.Search(FaceOf(1, 9).Emb, 1)[0].Identity);
            // compaction renames a new file over the path; the reader keeps reading codes from the one it opened
            writer.RemoveIdentity("person0");
            writer.Compact();
            Assert.Equal(FaceOf(0, 1).Code, reader.FacesOf("person0")[1].Code);
            Assert.Equal(FaceOf(2, 1).Code, reader.FacesOf("person2")[1].Code);
        }
        using var later = FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true });
        Assert.Equal(["person1", "person2", "person5"], later.Identities);
        Assert.Null(later.RecoveredTail);
    }

    [Fact]
    public void A_reader_does_not_lock_out_a_writer_and_a_second_writer_is_still_refused()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model)) Fill(g, 2, 1);
        using var reader = FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true });
        using var writer = FaceGallery.Open(path, Model);
        var (e, c) = FaceOf(3, 0);
        writer.Enroll("person3", e, c, "person3/0.jpg");
        Assert.Contains("open for writing elsewhere", Assert.Throws<IOException>(() => FaceGallery.Open(path, Model)).Message);
        Assert.Equal(2, reader.FaceCount);
    }

    [Fact]
    public void A_content_hash_is_kept_through_reopen_and_compaction_and_a_version_3_file_is_upgraded_to_keep_one()
    {
        const string hash = "sha256:00112233";
        var path = NewPath();
        // a version 3 file (no content field): read as faces of unknown content
        using (var f = File.Create(path))
        {
            f.Write(GalleryFileFormat.MagicOf(3));
            f.Write(GalleryFileFormat.HeaderRecord(Model, 3));
            var (e0, c0) = FaceOf(0, 0);
            f.Write(GalleryFileFormat.FaceRecord(0, "person0", "person0/0.jpg", e0, c0, 3).Bytes);
        }
        using (var g = FaceGallery.Open(path, Model))
        {
            Assert.Null(g.FindByContent("person0", hash));
            var (e, c) = FaceOf(1, 0);
            g.Enroll("person1", e, c, "person1/0.jpg", hash);
            Assert.Equal("person1/0.jpg", g.FindByContent("person1", hash)!.SourceFile);
        }
        Assert.Equal((byte)'4', File.ReadAllBytes(path)[7]);   // compacted to the version that has a place for the hash
        using (var g = FaceGallery.Open(path, Model))
        {
            Assert.Equal("person1/0.jpg", g.FindByContent("person1", hash)!.SourceFile);
            Assert.Null(g.FindByContent("person0", hash));   // per identity: the same photo under another name is not this one's
            Assert.Equal(FaceOf(0, 0).Code, g.FacesOf("person0")[0].Code);
            g.RemoveIdentity("person0");
            g.Compact();
        }
        using var again = FaceGallery.Open(path, Model, new FaceGalleryOptions { ReadOnly = true });
        Assert.Equal(FaceOf(1, 0).Code, again.FindByContent("person1", hash)!.Code);
        Assert.Equal(1, again.FaceCount);
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
