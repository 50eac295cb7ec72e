using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics.Tensors;
using Xcos.ML.Data;

namespace Xcos.ML.Gallery;

/// <summary>recall@10 of a graph at one search expansion, measured on sampled gallery members.</summary>
public sealed record RecallPoint(int ExpansionSearch, double RecallAt10);

/// <summary>
/// What <see cref="HnswRecallCalibration.Calibrate"/> measured on one graph: recall@10 at rising search expansions,
/// for <paramref name="Faces"/> faces and <paramref name="Samples"/> sampled members as queries.
/// </summary>
public sealed record HnswCalibration(long Faces, int Samples, IReadOnlyList<RecallPoint> Points)
{
    /// <summary>
    /// The smallest measured expansion whose recall@10 reaches <see cref="HnswRecallCalibration.SampleTarget"/> of
    /// <paramref name="target"/>; the largest measured one (the best this graph offers) when none does.
    /// </summary>
    public RecallPoint PointFor(double target)
    {
        HnswRecallCalibration.CheckTarget(target);
        if (Points.Count == 0) throw new InvalidOperationException("the calibration holds no measurements");
        double want = HnswRecallCalibration.SampleTarget(target);
        return Points.FirstOrDefault(p => p.RecallAt10 >= want) ?? Points[^1];
    }

    /// <summary>The search expansion for recall@10 <paramref name="target"/> (<see cref="PointFor"/>).</summary>
    public int ExpansionFor(double target) => PointFor(target).ExpansionSearch;

    /// <summary>Whether it still describes a graph of <paramref name="faces"/> faces: within a tenth of the size it was measured at.</summary>
    public bool Fits(long faces) => faces >= Faces * 0.9 && faces <= Faces * 1.1;
}

/// <summary>Row <paramref name="index"/> of a set of vectors (any length; cosines are taken).</summary>
internal delegate ReadOnlySpan<float> VectorRow(int index);

/// <summary>
/// Chooses an HNSW search expansion for a recall target instead of a constant: a sample of the graph's own members
/// is searched at rising expansions and each answer's top-10 compared with an exact scan's. The table is stored next
/// to a gallery's graph ("&lt;gallery&gt;.hnsw.recall", tied to the graph by its payload digest), so a read-only open
/// does not measure it again.
/// </summary>
/// <remarks>
/// A member stands in for a fresh photo of an enrolled person: its exact top-10 is itself and the faces nearest it,
/// much as a fresh photo's is that person's enrolled faces. Leaving the member out would make the 10th neighbour, for
/// a person with fewer than 10 faces, the best of all strangers: the hardest neighbour to find, which a fresh photo's
/// top-10 need not hold (on 10,000 clustered faces of 10 per person that read 0.995 up to ef 128 while fresh queries
/// found 1.000 at ef 16). Finding the member itself is nearly free, so the sample must reach
/// <see cref="SampleTarget"/> (half the allowed misses); `gallery-bench` checks the choice against fresh queries.
/// The exact scan reads every vector once for all samples, on every core.
/// </remarks>
internal static class HnswRecallCalibration
{
    /// <summary>Search expansions tried, in order; measuring stops at the first that finds all of the sample's top-10.</summary>
    public static readonly IReadOnlyList<int> Expansions = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048];

    /// <summary>Members sampled as queries by default: 1,000 neighbours in all, so a recall of 0.995 is known to about ±0.002.</summary>
    public const int DefaultSamples = 100;

    /// <summary>The recall the members must reach for a target: 1 - (1 - target) / 2 (0.995 for 0.99).</summary>
    public static double SampleTarget(double target) => 1 - (1 - target) / 2;

    /// <summary>Throws unless the target is a recall in (0, 1].</summary>
    public static void CheckTarget(double target)
    {
        if (!(target > 0 && target <= 1)) throw new ArgumentOutOfRangeException(nameof(target), target, "a recall target lies in (0, 1], e.g. 0.99");
    }

    /// <summary>
    /// Measures recall@10 of <paramref name="graph"/> (holding the <paramref name="faces"/> vectors <paramref name="rowOf"/>
    /// gives, under the keys <paramref name="keyOf"/> gives) on <paramref name="samples"/> members. The graph's search
    /// expansion is restored afterwards; nothing else may use the graph meanwhile.
    /// </summary>
    public static HnswCalibration Calibrate(HnswVectorIndex graph, int faces, Func<int, long> keyOf, VectorRow rowOf, int samples = DefaultSamples, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(keyOf);
        ArgumentNullException.ThrowIfNull(rowOf);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(faces);
        int k = Math.Min(10, faces);
        if (k < 1) return new HnswCalibration(faces, 0, [new RecallPoint(Expansions[0], 1)]);
        // distinct members, spread over the whole gallery
        var rng = new Random(seed);
        var picked = new HashSet<int>();
        int s = Math.Min(samples, faces);
        while (picked.Count < s) picked.Add(rng.Next(faces));
        var sample = picked.Order().ToArray();
        var queries = sample.Select(i => Unit(rowOf(i))).ToArray();
        var truth = ExactTop(faces, rowOf, keyOf, queries, k);

        int before = graph.ExpansionSearch;
        var points = new List<RecallPoint>();
        try
        {
            foreach (int ef in Expansions)
            {
                graph.ExpansionSearch = ef;
                double found = 0;
                for (int j = 0; j < s; j++) found += graph.Search(queries[j], k).Count(h => truth[j].Contains(h.Key));
                points.Add(new RecallPoint(ef, found / ((double)s * k)));
                if (found == (double)s * k) break;
            }
        }
        finally { graph.ExpansionSearch = before; }
        return new HnswCalibration(faces, s, points);
    }

    // Exact top-k of each query among all rows: one pass over the rows for all queries, split over the cores.
    private static HashSet<long>[] ExactTop(int faces, VectorRow rowOf, Func<int, long> keyOf, float[][] queries, int k)
    {
        int parts = Math.Clamp(faces / 4096, 1, Environment.ProcessorCount);
        var tops = new TopK[parts][];
        Parallel.For(0, parts, p =>
        {
            var mine = tops[p] = Enumerable.Range(0, queries.Length).Select(_ => new TopK(k)).ToArray();
            int from = (int)((long)faces * p / parts), to = (int)((long)faces * (p + 1) / parts);
            for (int i = from; i < to; i++)
            {
                var row = rowOf(i);
                float norm = TensorPrimitives.Norm(row);
                if (norm == 0) continue;
                long key = keyOf(i);
                for (int j = 0; j < queries.Length; j++) mine[j].Offer(key, TensorPrimitives.Dot(row, queries[j]) / norm);
            }
        });
        return Enumerable.Range(0, queries.Length).Select(j =>
        {
            var merged = new TopK(k);
            foreach (var t in tops) t[j].MergeInto(merged);
            return merged.Keys();
        }).ToArray();
    }

    private static float[] Unit(ReadOnlySpan<float> v)
    {
        var u = v.ToArray();
        float n = TensorPrimitives.Norm(u);
        if (n > 0) TensorPrimitives.Divide(u, n, u);
        return u;
    }

    private sealed class TopK(int k)
    {
        private readonly long[] _keys = new long[k];
        private readonly float[] _values = new float[k];
        private int _count, _min;

        public void Offer(long key, float value)
        {
            if (_count < _keys.Length)
            {
                _keys[_count] = key;
                _values[_count++] = value;
                if (_count == _keys.Length) _min = MinAt();
            }
            else if (value > _values[_min])
            {
                _keys[_min] = key;
                _values[_min] = value;
                _min = MinAt();
            }
        }

        private int MinAt()
        {
            int m = 0;
            for (int i = 1; i < _count; i++) if (_values[i] < _values[m]) m = i;
            return m;
        }

        public void MergeInto(TopK other) { for (int i = 0; i < _count; i++) other.Offer(_keys[i], _values[i]); }

        public HashSet<long> Keys() => [.. _keys.AsSpan(0, _count).ToArray()];
    }

    private static readonly byte[] Magic = "XCOSHNEF"u8.ToArray();
    private const int Version = 1;

    /// <summary>The calibration file of a gallery, next to its graph.</summary>
    public static string PathFor(string galleryPath) => galleryPath + ".hnsw.recall";

    /// <summary>
    /// Writes <paramref name="calibration"/> for the graph whose payload SHA-256 is <paramref name="graphDigest"/>
    /// (<see cref="HnswGraphFile.Save"/> returns it). Little-endian: magic "XCOSHNEF", int32 version 1, byte[32] graph
    /// digest, int64 faces, int32 samples, int32 points n, n x (int32 expansion, float64 recall@10), uint32 CRC-32 of
    /// everything before it. Temporary file, then a rename.
    /// </summary>
    public static void Save(string path, HnswCalibration calibration, byte[] graphDigest)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        if (graphDigest is not { Length: 32 }) throw new ArgumentException("the graph digest is a 32-byte SHA-256", nameof(graphDigest));
        var b = new byte[60 + 12 * calibration.Points.Count + 4];
        var s = b.AsSpan();
        Magic.CopyTo(s);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], Version);
        graphDigest.CopyTo(s[12..]);
        BinaryPrimitives.WriteInt64LittleEndian(s[44..], calibration.Faces);
        BinaryPrimitives.WriteInt32LittleEndian(s[52..], calibration.Samples);
        BinaryPrimitives.WriteInt32LittleEndian(s[56..], calibration.Points.Count);
        for (int i = 0; i < calibration.Points.Count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(s[(60 + 12 * i)..], calibration.Points[i].ExpansionSearch);
            BinaryPrimitives.WriteDoubleLittleEndian(s[(64 + 12 * i)..], calibration.Points[i].RecallAt10);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[^4..], Crc32.HashToUInt32(s[..^4]));
        AtomicFile.Write(path, f => f.Write(b), b.Length);
    }

    /// <summary>The calibration stored for the graph of digest <paramref name="graphDigest"/>, or null with the reason.</summary>
    public static HnswCalibration? TryLoad(string path, byte[] graphDigest, out string why)
    {
        why = "";
        if (!File.Exists(path)) { why = $"{path}: no saved recall calibration"; return null; }
        if (FileKinds.Of(path) != FileKind.Regular) { why = $"{path}: not a regular file"; return null; }
        var info = new FileInfo(path);
        if (info.Length is < 64 or > 4096) { why = $"{path}: {info.Length} bytes, not a recall calibration"; return null; }
        var b = File.ReadAllBytes(path);
        var s = b.AsSpan();
        if (!s[..8].SequenceEqual(Magic)) { why = $"{path}: not a recall calibration (magic)"; return null; }
        if (Crc32.HashToUInt32(s[..^4]) != BinaryPrimitives.ReadUInt32LittleEndian(s[^4..])) { why = $"{path}: checksum fails"; return null; }
        int version = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
        if (version != Version) { why = $"{path}: calibration version {version}, this build reads {Version}"; return null; }
        if (!s[12..44].SequenceEqual(graphDigest)) { why = $"{path}: measured on another graph"; return null; }
        long faces = BinaryPrimitives.ReadInt64LittleEndian(s[44..]);
        int samples = BinaryPrimitives.ReadInt32LittleEndian(s[52..]), n = BinaryPrimitives.ReadInt32LittleEndian(s[56..]);
        if (n < 1 || b.Length != 64 + 12 * n) { why = $"{path}: {n} points do not fill {b.Length} bytes"; return null; }
        var points = new RecallPoint[n];
        for (int i = 0; i < n; i++)
        {
            int ef = BinaryPrimitives.ReadInt32LittleEndian(s[(60 + 12 * i)..]);
            double r = BinaryPrimitives.ReadDoubleLittleEndian(s[(64 + 12 * i)..]);
            if (ef < 1 || !(r >= 0 && r <= 1)) { why = $"{path}: point {i} (ef {ef}, recall {r}) is out of range"; return null; }
            points[i] = new RecallPoint(ef, r);
        }
        return new HnswCalibration(faces, samples, points);
    }
}
