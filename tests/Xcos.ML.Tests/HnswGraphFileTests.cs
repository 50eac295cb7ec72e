using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using Xcos.ML.Gallery;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>
/// The saved HNSW graph next to a gallery: loaded when it matches the gallery, topped up with faces enrolled since,
/// and detected and rebuilt when stale (removal, another gallery's graph, other settings) or corrupt (cut, flipped byte).
/// </summary>
public class HnswGraphFileTests
{
    private static readonly GalleryModelStamp Model = new("test-model", "sha256:00", 16, 3);
    // search expansion above the 90 faces: the approximate search then finds what the exact scan finds, on any build of the graph
    private static readonly FaceGalleryOptions Hnsw = new() { Index = GalleryIndexKind.Hnsw, Hnsw = new HnswSettings(ExpansionSearch: 256) };

    private static string NewPath() => Path.Combine(Directory.CreateTempSubdirectory("xcos-graph").FullName, "faces.gallery");

    private static float[] Emb(int identity, int photo)
    {
        var rng = new Random(identity * 1000 + photo);
        var e = new float[16];
        for (int i = 0; i < 16; i++) e[i] = (i == identity % 16 ? 4f : 0f) + (identity / 16 == i % 4 ? 2f : 0f) + (float)(rng.NextDouble() - 0.5);
        return e;
    }

    private static void Fill(FaceGallery g, int fromIdentity, int identities, int photos = 3)
    {
        for (int id = fromIdentity; id < fromIdentity + identities; id++)
            for (int p = 0; p < photos; p++) g.Enroll($"person{id}", Emb(id, p), [id, p, 0], $"person{id}/{p}.jpg");
    }

    // identity and cosine of the best match of each identity's probe (the gallery reports the exact scan's cosine for HNSW hits too)
    private static List<(string, double)> Answers(FaceGallery g, int identities) =>
        Enumerable.Range(0, identities).Select(id => g.Search(Emb(id, 99), 1)[0]).Select(c => (c.Identity, c.Cosine)).ToList();

    private static List<(string, double)> ExactAnswers(string path, int identities)
    {
        using var exact = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Exact, ReadOnly = true });
        return Answers(exact, identities);
    }

    [Fact]
    public void A_saved_graph_is_loaded_on_open_and_answers_as_the_built_one_did()
    {
        var path = NewPath();
        List<(string, double)> before;
        using (var g = FaceGallery.Create(path, Model, Hnsw))
        {
            Fill(g, 0, 40);
            Assert.StartsWith("built", g.IndexOrigin);
            before = Answers(g, 40);
        }
        Assert.True(File.Exists(HnswGraphFile.PathFor(path)));
        Assert.Equal(ExactAnswers(path, 40), before);
        using var r = FaceGallery.Open(path, Model, Hnsw);
        Assert.Equal($"loaded 120 faces from {HnswGraphFile.PathFor(path)}", r.IndexOrigin);
        Assert.Equal(before, Answers(r, 40));
    }

    [Fact]
    public void Faces_enrolled_after_the_graph_was_saved_are_added_to_the_loaded_graph()
    {
        var path = NewPath();
        var graph = HnswGraphFile.PathFor(path);
        using (var g = FaceGallery.Create(path, Model, Hnsw)) Fill(g, 0, 30);
        var old = File.ReadAllBytes(graph);
        using (var g = FaceGallery.Open(path, Model, Hnsw)) Fill(g, 30, 10);
        // as after a crash mid-enrolment: the graph on disk predates the last 30 faces
        File.WriteAllBytes(graph, old);
        var expected = ExactAnswers(path, 40);
        using var r = FaceGallery.Open(path, Model, Hnsw);
        Assert.Equal($"loaded 90 faces from {graph}, added 30 enrolled since", r.IndexOrigin);
        Assert.Equal(expected, Answers(r, 40));
    }

    [Fact]
    public void A_graph_saved_before_a_removal_is_stale_and_rebuilt_so_removed_faces_never_come_back()
    {
        var path = NewPath();
        var graph = HnswGraphFile.PathFor(path);
        using (var g = FaceGallery.Create(path, Model, Hnsw)) Fill(g, 0, 30);
        var old = File.ReadAllBytes(graph);
        using (var g = FaceGallery.Open(path, Model, Hnsw)) { g.RemoveIdentity("person3"); Fill(g, 30, 1); }
        File.WriteAllBytes(graph, old);
        using var r = FaceGallery.Open(path, Model, Hnsw);
        Assert.StartsWith("built (", r.IndexOrigin);
        Assert.Contains("saved for other faces", r.IndexOrigin);
        Assert.DoesNotContain(r.Search(Emb(3, 99), 30), c => c.Identity == "person3");
    }

    [Fact]
    public void Another_gallerys_graph_of_the_same_size_is_not_used()
    {
        var a = NewPath();
        var b = NewPath();
        using (var g = FaceGallery.Create(a, Model, Hnsw)) Fill(g, 0, 20);
        using (var g = FaceGallery.Create(b, Model, Hnsw)) Fill(g, 20, 20);
        File.Copy(HnswGraphFile.PathFor(b), HnswGraphFile.PathFor(a), overwrite: true);
        var expected = ExactAnswers(a, 20);
        using var r = FaceGallery.Open(a, Model, Hnsw);
        Assert.Contains("saved for other faces", r.IndexOrigin);
        Assert.Equal(expected, Answers(r, 20));
    }

    [Theory]
    [InlineData("flip-payload")]
    [InlineData("flip-header")]
    [InlineData("cut")]
    [InlineData("empty")]
    public void A_corrupt_graph_file_is_detected_and_rebuilt(string damage)
    {
        var path = NewPath();
        var graph = HnswGraphFile.PathFor(path);
        using (var g = FaceGallery.Create(path, Model, Hnsw)) Fill(g, 0, 30);
        var bytes = File.ReadAllBytes(graph);
        switch (damage)
        {
            case "flip-payload": bytes[^100] ^= 0x10; break;
            case "flip-header": bytes[30] ^= 0x01; break;
            case "cut": bytes = bytes[..(bytes.Length / 2)]; break;
            case "empty": bytes = []; break;
        }
        File.WriteAllBytes(graph, bytes);
        var expected = ExactAnswers(path, 30);
        using (var r = FaceGallery.Open(path, Model, Hnsw))
        {
            Assert.StartsWith("built (", r.IndexOrigin);
            Assert.Equal(expected, Answers(r, 30));
        }
        // closing the writable gallery wrote a good graph again
        using var again = FaceGallery.Open(path, Model, Hnsw);
        Assert.StartsWith("loaded 90 faces", again.IndexOrigin);
    }

    [Fact]
    public void A_graph_built_with_other_settings_is_rebuilt_and_a_read_only_open_writes_nothing()
    {
        var path = NewPath();
        var graph = HnswGraphFile.PathFor(path);
        using (var g = FaceGallery.Create(path, Model, Hnsw)) Fill(g, 0, 20);
        var saved = File.ReadAllBytes(graph);
        var other = new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true, Hnsw = new HnswSettings(Connectivity: 8) };
        var expected = ExactAnswers(path, 20);
        using (var r = FaceGallery.Open(path, Model, other))
        {
            Assert.Contains("M=16", r.IndexOrigin);
            Assert.Equal(expected, Answers(r, 20));
        }
        Assert.Equal(saved, File.ReadAllBytes(graph));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void Saving_refuses_a_digest_that_does_not_cover_the_graph()
    {
        using var h = new HnswVectorIndex(4);
        h.Add(1, [1, 0, 0, 0]);
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-graph").FullName, "g.hnsw");
        Assert.Throws<ArgumentException>(() => HnswGraphFile.Save(path, h, new GalleryContentDigest(2, new byte[32])));
        Assert.False(File.Exists(path));
    }

    [TmpfsFact]
    public void Saving_the_graph_on_a_full_disk_is_an_IOException_leaves_no_temporary_file_and_the_gallery_stays_usable()
    {
        using var disk = SmallTmpfs.Mount("512k");
        var path = Path.Combine(disk.Dir, "faces.gallery");
        using (var g = FaceGallery.Create(path, Model, Hnsw))
        {
            Fill(g, 0, 100, photos: 5);
            var before = Answers(g, 100);
            disk.FillLeaving(8 << 10);   // the graph of 500 faces needs far more than 8 KiB
            Assert.Throws<IOException>(g.SaveIndex);
            Assert.Empty(Directory.GetFiles(disk.Dir, "*.tmp"));
            Assert.False(File.Exists(HnswGraphFile.PathFor(path)));
            Assert.Equal(before, Answers(g, 100));
        }
        File.Delete(Path.Combine(disk.Dir, "filler"));
        using var again = FaceGallery.Open(path, Model, Hnsw);
        Assert.Equal(500, again.FaceCount);
        Assert.StartsWith("built", again.IndexOrigin);
    }

    [Fact]
    public async Task A_graph_file_that_is_a_fifo_is_not_opened_and_the_graph_is_rebuilt()
    {
        var path = NewPath();
        using (var g = FaceGallery.Create(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, SaveIndex = false })) Fill(g, 0, 4);
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [HnswGraphFile.PathFor(path)])) mk.WaitForExit();
        var open = Task.Run(() =>
        {
            using var g = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true });
            return g.IndexOrigin;
        });
        if (await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(20))) != open)
        {
            // release the blocked open before failing, so the test host does not hang
            using (new FileStream(HnswGraphFile.PathFor(path), FileMode.Open, FileAccess.Write)) { }
            Assert.Fail("opening the gallery blocked on the FIFO");
        }
        Assert.Contains("not a regular file", await open);
    }
}

/// <summary>
/// Crafted graph files (#23 case 8): bytes of USearch's graph changed and both checksums recomputed, so only the
/// structure check stands between them and native code. Each is refused (the graph rebuilt from the gallery, the reason
/// naming the file) and never crashes the process.
/// </summary>
public class HnswGraphStructureTests
{
    private static readonly GalleryModelStamp Model = new("test-model", "sha256:00", 16, 3);
    // search expansion above the 90 faces: the approximate search then finds what the exact scan finds, on any build of the graph
    private static readonly FaceGalleryOptions Hnsw = new() { Index = GalleryIndexKind.Hnsw, Hnsw = new HnswSettings(ExpansionSearch: 256) };
    private const int Header = 112;

    private static (string Path, string Graph) NewGallery(int identities = 30, string? remove = null)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-graph").FullName, "faces.gallery");
        using (var g = FaceGallery.Create(path, Model, Hnsw))
        {
            for (int id = 0; id < identities; id++)
                for (int p = 0; p < 3; p++) g.Enroll($"person{id}", Emb(id, p), [id, p, 0], $"person{id}/{p}.jpg");
            if (remove is not null) g.RemoveIdentity(remove);
        }
        return (path, HnswGraphFile.PathFor(path));
    }

    private static float[] Emb(int identity, int photo)
    {
        var rng = new Random(identity * 1000 + photo);
        return Enumerable.Range(0, 16).Select(i => (i == identity % 16 ? 4f : 0f) + (float)(rng.NextDouble() - 0.5)).ToArray();
    }

    // the graph's checksums recomputed after a change, as an attacker would
    private static void Reseal(byte[] file)
    {
        SHA256.HashData(file.AsSpan(Header)).CopyTo(file, 76);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(108), Crc32.HashToUInt32(file.AsSpan(0, 108)));
    }

    // where USearch's parts lie in a graph file: the graph header, the level table and each node
    private sealed record Layout(int GraphHeader, int Levels, int[] Nodes, short[] NodeLevels, int BaseM, int M);

    private static Layout Parse(byte[] file)
    {
        var s = file.AsSpan(Header);
        int rows = BinaryPrimitives.ReadInt32LittleEndian(s), bytes = BinaryPrimitives.ReadInt32LittleEndian(s[4..]);
        int graph = 8 + rows * bytes + 64;
        int m = (int)BinaryPrimitives.ReadUInt64LittleEndian(s[(graph + 8)..]), mBase = (int)BinaryPrimitives.ReadUInt64LittleEndian(s[(graph + 16)..]);
        int levelsAt = graph + 40;
        var levels = new short[rows];
        var nodes = new int[rows];
        int at = levelsAt + 2 * rows;
        for (int i = 0; i < rows; i++)
        {
            levels[i] = BinaryPrimitives.ReadInt16LittleEndian(s[(levelsAt + 2 * i)..]);
            nodes[i] = at;
            at += 10 + 4 + 4 * mBase + levels[i] * (4 + 4 * m);
        }
        Assert.Equal(s.Length, at);
        return new Layout(Header + graph, Header + levelsAt, nodes.Select(n => Header + n).ToArray(), levels, mBase, m);
    }

    private static void Open_rebuilds(string path, string graph, string reason)
    {
        List<string> expected;
        using (var exact = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Exact, ReadOnly = true }))
            expected = Enumerable.Range(0, 30).Select(id => exact.Search(Emb(id, 9), 1)[0].Identity).ToList();
        using var g = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true });
        Assert.StartsWith($"built ({graph}: not a sound graph (", g.IndexOrigin);
        Assert.Contains(reason, g.IndexOrigin);
        Assert.Equal(expected, Enumerable.Range(0, 30).Select(id => g.Search(Emb(id, 9), 1)[0].Identity).ToList());
    }

    [Theory]
    [InlineData("neighbour slot out of range", "links to node 2147483632")]
    [InlineData("neighbour count over capacity", "neighbours on level 0, room for 32")]
    [InlineData("entry slot out of range", "entry node 1099511627776")]
    [InlineData("node level unlike the level table", "says level 7")]
    [InlineData("level above the top level", "on level 40, the graph's top level")]
    [InlineData("link to a node below the level", "which only reaches level 0")]
    [InlineData("key of no face", "holds key 999")]
    [InlineData("one key on two nodes", "on two nodes")]
    [InlineData("cut inside the nodes", "ends at byte")]
    public void A_crafted_graph_with_recomputed_checksums_is_refused_and_rebuilt(string damage, string reason)
    {
        var (path, graph) = NewGallery();
        var file = File.ReadAllBytes(graph);
        var l = Parse(file);
        int upper = Array.FindIndex(l.NodeLevels, v => v >= 1);
        int ground = Array.FindIndex(l.NodeLevels, v => v == 0);
        switch (damage)
        {
            case "neighbour slot out of range": BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(l.Nodes[0] + 14), 0x7FFFFFF0); break;
            case "neighbour count over capacity": BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(l.Nodes[0] + 10), 1000); break;
            case "entry slot out of range": BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(l.GraphHeader + 32), 1UL << 40); break;
            case "node level unlike the level table": BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(l.Nodes[0] + 8), 7); break;
            case "level above the top level": BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(l.Levels), 40); break;
            case "link to a node below the level":
            {
                // the first neighbour on level 1 of a node reaching it becomes a node of level 0 only
                int level1 = l.Nodes[upper] + 10 + 4 + 4 * l.BaseM;
                BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(level1), 1);
                BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(level1 + 4), (uint)ground);
                break;
            }
            case "key of no face": BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(l.Nodes[3]), 999); break;
            case "one key on two nodes": BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(l.Nodes[3]), BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(l.Nodes[4]))); break;
            case "cut inside the nodes":
                // the header's lengths follow the cut, so only the graph's own structure shows it
                file = file[..^50];
                BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(68), file.Length - Header);
                break;
        }
        Reseal(file);
        File.WriteAllBytes(graph, file);
        Open_rebuilds(path, graph, reason);
    }

    [Fact]
    public void The_graphs_this_project_writes_pass_the_check_removed_faces_included()
    {
        var (path, graph) = NewGallery(remove: "person3");
        var l = Parse(File.ReadAllBytes(graph));
        Assert.Equal(90, l.Nodes.Length);   // removed faces stay in USearch's graph, their keys cleared
        using (var g = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true }))
            Assert.Equal($"loaded 87 faces from {graph}", g.IndexOrigin);
        // faces enrolled after a removal may take the removed faces' slots in USearch's graph
        using (var g = FaceGallery.Open(path, Model, Hnsw))
        {
            Assert.StartsWith("loaded 87 faces", g.IndexOrigin);
            for (int p = 0; p < 3; p++) g.Enroll("person3", Emb(3, p + 10), [3, p, 0], $"person3/again{p}.jpg");
        }
        using var again = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true });
        Assert.Equal($"loaded 90 faces from {graph}", again.IndexOrigin);
    }

    [Fact]
    public void Random_changes_to_the_graph_part_with_recomputed_checksums_never_reach_native_code_unchecked()
    {
        var (path, graph) = NewGallery();
        var good = File.ReadAllBytes(graph);
        int graphStart = Parse(good).GraphHeader;
        var rng = new Random(23);
        int refused = 0;
        for (int round = 0; round < 40; round++)
        {
            var file = (byte[])good.Clone();
            for (int k = 0; k < 6; k++) file[rng.Next(graphStart, file.Length)] = (byte)rng.Next(256);
            Reseal(file);
            File.WriteAllBytes(graph, file);
            using var g = FaceGallery.Open(path, Model, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true });
            if (g.IndexOrigin.Contains("not a sound graph", StringComparison.Ordinal)) refused++;
            else Assert.StartsWith("loaded 90 faces", g.IndexOrigin);
            // whatever was loaded answers: the process is still here
            Assert.All(Enumerable.Range(0, 30), id => Assert.NotEmpty(g.Search(Emb(id, 9), 3)));
        }
        // most bytes of a graph are neighbour slots and counts: changing them is caught
        Assert.True(refused >= 20, $"{refused} of 40 damaged graphs refused");
    }
}
