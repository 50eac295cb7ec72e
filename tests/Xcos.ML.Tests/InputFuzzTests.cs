using System.Buffers.Binary;
using System.Security.Cryptography;
using SixLabors.ImageSharp.Formats.Png;
using Xcos.ML.Data;
using Xcos.ML.Gallery;
using Xcos.ML.Images;
using Xunit;
using Xunit.Abstractions;

namespace Xcos.ML.Tests;

/// <summary>
/// Bounded fuzzing of the image, .bin and gallery readers: seeded mutations of a PNG, a JPEG photo, an InsightFace .bin,
/// a gallery file and its HNSW graph must each end in a valid result or an <see cref="InvalidDataException"/> naming the
/// input: no other exception, no hang, no crash.
/// Each run stops at its case count or its time cap, whichever comes first (the count it reached is printed).
/// </summary>
public sealed class InputFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(40);
    private const string Name = "fuzzed-input";
    // a mutated header may claim any size; a small budget keeps every case cheap without skipping the size check
    private static readonly ImageLoadOptions Budget = new() { MaxPixels = 1_000_000 };

    private void Report(string what, Fuzz.Summary s)
    {
        output.WriteLine($"{what}: {s.Cases} cases in {s.Elapsed.TotalSeconds:F1} s, {s.Accepted} decoded, {s.Refused} refused, slowest case {s.SlowestCase} {s.SlowestTime.TotalSeconds:F2} s ({s.TopReasons()})");
        Assert.True(s.Failures.Count == 0, $"{what}: " + string.Join("\n", s.Failures));
        Assert.True(s.Refused > 0 && s.Accepted > 0, $"{what}: the mutations reached only one outcome");
    }

    private static void LoadImage(byte[] bytes)
    {
        RgbImage image;
        try { image = ImageIO.Load(bytes, Budget, Name); }
        catch (InvalidDataException e) when (!e.Message.Contains(Name, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("refusal without the input's name: " + e.Message);
        }
        if (image.Width <= 0 || image.Height <= 0 || image.Pixels.Length != image.Width * image.Height * 3)
            throw new InvalidOperationException($"inconsistent image {image.Width}x{image.Height} with {image.Pixels.Length} bytes");
    }

    [Fact]
    public void MutatedPngs()
    {
        var png = ImageInputMatrixTests.Picture(new PngEncoder());
        Report("png", Fuzz.Run(png, 1000, 1000, Cap / 2, LoadImage, typeof(InvalidDataException)));
        // with every chunk CRC repaired, mutations get past the CRC check into the decoder and the truncation check
        Report("png, CRCs repaired", Fuzz.Run(png, 5000, 1000, Cap / 2, b => LoadImage(RepairCrcs(b)), typeof(InvalidDataException)));
    }

    [Fact]
    public void MutatedJpegPhotos()
    {
        var jpg = File.ReadAllBytes(Fixtures.Path("pairs_image_0.jpg"));
        Report("jpeg", Fuzz.Run(jpg, 2000, 2000, Cap, LoadImage, typeof(InvalidDataException)));
    }

    [Fact]
    public void MutatedInsightFaceBins()
    {
        var bin = File.ReadAllBytes(Fixtures.Path("pairs_protocol2.bin"));
        Report("bin", Fuzz.Run(bin, 3000, 2000, Cap, bytes =>
        {
            var (images, same) = InsightFaceBin.Read(new MemoryStream(bytes), Name);
            if (images.Count != 2 * same.Length) throw new InvalidOperationException($"{images.Count} images for {same.Length} pairs");
            // a .bin that parses hands its images to the decoder: they too end in an image or a named refusal
            foreach (var image in images.Take(2)) LoadImage(image);
        }, typeof(InvalidDataException)));
    }

    private static readonly GalleryModelStamp GalleryModel = new("fuzz-model", "sha256:00", 16, 3);

    private static float[] GalleryEmbedding(int identity, int photo)
    {
        var rng = new Random(identity * 100 + photo);
        return Enumerable.Range(0, 16).Select(i => (i == identity % 16 ? 3f : 0f) + (float)(rng.NextDouble() - 0.5)).ToArray();
    }

    // A small gallery of every record kind: faces, a removal, faces enrolled after it.
    private static string SmallGallery(string dir, GalleryIndexKind index)
    {
        var path = Path.Combine(dir, "seed.gallery");
        using var g = FaceGallery.Create(path, GalleryModel, new FaceGalleryOptions { Index = index });
        for (int id = 0; id < 8; id++)
            for (int p = 0; p < 2; p++) g.Enroll($"person{id}", GalleryEmbedding(id, p), [id, p, 1], $"person{id}/{p}.jpg");
        g.RemoveIdentity("person2");
        g.Enroll("person2", GalleryEmbedding(2, 5), [2, 5, 1], "person2/5.jpg");
        return path;
    }

    // The live faces the records whose checksums hold describe (as salvage would keep them), or null when the header is gone.
    private static SortedSet<string>? LiveByChecksum(byte[] bytes, string path)
    {
        GalleryFileFormat.Salvaged found;
        try { found = GalleryFileFormat.ReadSalvageable(bytes, path); }
        catch (InvalidDataException) { return null; }
        var live = new Dictionary<long, string>();
        foreach (var e in found.Entries)
        {
            if (e.Type == GalleryFileFormat.FaceType) live[e.FaceId] = $"{e.FaceId} {e.Identity} {e.Source}";
            else foreach (var id in live.Where(kv => kv.Value.Split(' ')[1] == e.Identity).Select(kv => kv.Key).ToList()) live.Remove(id);
        }
        return new SortedSet<string>(live.Values, StringComparer.Ordinal);
    }

    private static SortedSet<string> LiveOf(FaceGallery g) =>
        new(g.Identities.SelectMany(g.FacesOf).Select(f => $"{f.Id} {f.Identity} {f.SourceFile}"), StringComparer.Ordinal);

    /// <summary>
    /// Bit flips, overwrites, cuts, inserts and repeats of a gallery file: opening it for identification either answers
    /// from exactly the faces whose records' checksums hold, or refuses naming the file; a writable open never loses a
    /// record whose checksum held (it may only drop a torn tail) and a refused one changes nothing.
    /// </summary>
    [Fact]
    public void MutatedGalleries()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-gallery-fuzz").FullName;
        var seed = File.ReadAllBytes(SmallGallery(dir, GalleryIndexKind.Exact));
        var read = Path.Combine(dir, "read.gallery");
        var write = Path.Combine(dir, "write.gallery");
        var probe = GalleryEmbedding(1, 9);
        Report("gallery", Fuzz.Run(seed, 4000, 5000, TimeSpan.FromSeconds(14), bytes =>
        {
            var expected = LiveByChecksum(bytes, read);
            File.WriteAllBytes(write, bytes);
            try
            {
                using (FaceGallery.Open(write, GalleryModel, new FaceGalleryOptions { Index = GalleryIndexKind.Exact })) { }
                if (expected is not null && LiveByChecksum(File.ReadAllBytes(write), write) is { } after && !after.IsSupersetOf(expected))
                    throw new InvalidOperationException($"a writable open lost records whose checksums held: {string.Join(", ", expected.Except(after))}");
            }
            catch (InvalidDataException)
            {
                if (!File.ReadAllBytes(write).AsSpan().SequenceEqual(bytes)) throw new InvalidOperationException("a refused writable open changed the file");
            }

            File.WriteAllBytes(read, bytes);
            try
            {
                using var g = FaceGallery.Open(read, GalleryModel, new FaceGalleryOptions { Index = GalleryIndexKind.Exact, ReadOnly = true });
                var answered = LiveOf(g);
                if (expected is null || !answered.SetEquals(expected))
                    throw new InvalidOperationException($"answers from {answered.Count} faces; the records whose checksums hold give {expected?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none (header damaged)"}");
                if (g.FaceCount > 0 && g.Search(probe, 3).Count == 0) throw new InvalidOperationException("no answer from a gallery with faces");
            }
            catch (InvalidDataException e) when (!e.Message.Contains(read, StringComparison.Ordinal))
            {
                throw new InvalidOperationException("refusal without the file's name: " + e.Message);
            }
        }, typeof(InvalidDataException)));
    }

    /// <summary>
    /// Mutations of the gallery's saved HNSW graph, half of them with both checksums recomputed (as an attacker would):
    /// the graph is either loaded or rebuilt, never crashes the process, and a rebuilt one answers as the exact scan.
    /// </summary>
    [Fact]
    public void MutatedGalleryGraphs()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-graph-fuzz").FullName;
        var path = SmallGallery(dir, GalleryIndexKind.Hnsw);
        var graph = HnswGraphFile.PathFor(path);
        var seed = File.ReadAllBytes(graph);
        var probes = Enumerable.Range(0, 8).Select(id => GalleryEmbedding(id, 9)).ToList();
        List<string> exact;
        using (var g = FaceGallery.Open(path, GalleryModel, new FaceGalleryOptions { Index = GalleryIndexKind.Exact, ReadOnly = true }))
            exact = probes.Select(q => g.Search(q, 1)[0].Identity).ToList();
        int resealed = 0;
        Report("graph", Fuzz.Run(seed, 5000, 5000, TimeSpan.FromSeconds(6), bytes =>
        {
            if (bytes.Length > 112 && (bytes[^1] & 1) == 0)
            {
                // as an attacker would: the payload length, its SHA-256 and the header's CRC made to fit the change
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(68), bytes.Length - 112);
                SHA256.HashData(bytes.AsSpan(112)).CopyTo(bytes, 76);
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(108), System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(0, 108)));
                resealed++;
            }
            File.WriteAllBytes(graph, bytes);
            using var g = FaceGallery.Open(path, GalleryModel, new FaceGalleryOptions { Index = GalleryIndexKind.Hnsw, ReadOnly = true });
            var answers = probes.Select(q => g.Search(q, 1)).ToList();
            if (answers.Any(a => a.Count == 0)) throw new InvalidOperationException($"no answer ({g.IndexOrigin})");
            if (g.IndexOrigin.StartsWith("built", StringComparison.Ordinal))
            {
                if (!answers.Select(a => a[0].Identity).SequenceEqual(exact)) throw new InvalidOperationException($"a rebuilt graph answers unlike the exact scan ({g.IndexOrigin})");
                throw new InvalidDataException(g.IndexOrigin);   // counted as refused: the damaged graph was not used
            }
        }, typeof(InvalidDataException)));
        Assert.True(resealed > 0);
    }

    // Recomputes each chunk's CRC where the chunk structure still allows it.
    private static byte[] RepairCrcs(byte[] png)
    {
        var b = (byte[])png.Clone();
        int pos = 8;
        while (pos + 12 <= b.Length)
        {
            long len = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos));
            if (pos + 12 + len > b.Length) break;
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(pos + 8 + (int)len), Crc32(b.AsSpan(pos + 4, 4 + (int)len)));
            pos += 12 + (int)len;
        }
        return b;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var x in data)
        {
            c ^= x;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }
}
