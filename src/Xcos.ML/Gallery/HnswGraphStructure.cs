using System.Buffers.Binary;

namespace Xcos.ML.Gallery;

/// <summary>
/// Checks the structure of USearch's serialisation of a graph (2.x, <c>index_dense_gt</c> with 64-bit keys and 32-bit
/// slots) before native code reads it: native USearch trusts every count, level and neighbour slot it loads, so a
/// crafted graph whose checksums were recomputed would make a search read outside its tables (SIGSEGV). The layout,
/// little-endian, as USearch writes it (confirmed on graphs this project saves):
/// <code>
/// uint32 rows, uint32 bytes per vector; rows × bytes of vectors (one per slot, removed faces included)
/// head, 64 bytes: "usearch", uint16 major, minor, patch, byte metric, scalar, key and slot kinds,
///   uint64 present, uint64 deleted, uint64 dimensions, byte multi, padding
/// graph header: uint64 size, connectivity M, base connectivity, max level, entry slot
/// int16 level of each node (size of them)
/// each node: uint64 key (all ones when removed), int16 level, then for level 0 and each level up to its own:
///   uint32 neighbour count, then base-M (level 0) or M (higher levels) uint32 neighbour slots
/// </code>
/// </summary>
internal static class HnswGraphStructure
{
    private const int DenseHeadLength = 64;
    private const int GraphHeaderLength = 40;
    private const byte MetricCos = (byte)'c';
    private const byte KindBFloat16 = 4, KindFloat32 = 11, KindFloat16 = 12, KindUInt64 = 14, KindUInt32 = 15;
    private const ulong RemovedKey = ulong.MaxValue;
    // USearch draws levels as -ln(U)/ln(M): past 63 levels no real graph reaches, and a larger one only sizes tables
    private const int MaxLevels = 64;
    private const int MaxConnectivity = 1 << 16;

    /// <summary>
    /// Null when the <paramref name="length"/> bytes of <paramref name="payload"/> are a graph USearch can load safely
    /// for these settings, holding exactly the faces <paramref name="liveKeys"/> (plus removed ones); otherwise what is wrong.
    /// </summary>
    public static string? Check(Stream payload, long length, int dimension, HnswSettings settings, IReadOnlyCollection<long> liveKeys)
    {
        var r = new Reader(payload, length);
        try { return Check(r, dimension, settings, liveKeys); }
        catch (EndOfStreamException) { return $"the graph ends at byte {r.Position}, inside {r.What}"; }
    }

    private static string? Check(Reader r, int dimension, HnswSettings settings, IReadOnlyCollection<long> liveKeys)
    {
        // the vectors
        r.What = "the vector table";
        long rows = r.UInt32(), vectorBytes = r.UInt32();
        int scalarBytes = settings.Quantization == HnswQuantization.Float32 ? 4 : 2;
        if (vectorBytes != (long)dimension * scalarBytes) return $"{vectorBytes} bytes per vector, {dimension}-d {settings.Quantization} vectors take {(long)dimension * scalarBytes}";
        if (rows * vectorBytes > r.Remaining) return $"{rows} vectors of {vectorBytes} bytes do not fit the {r.Remaining} bytes left";
        r.Skip(rows * vectorBytes);

        // USearch's head
        r.What = "the index head";
        var head = r.Bytes(DenseHeadLength);
        if (!head.AsSpan(0, 7).SequenceEqual("usearch"u8)) return "no USearch head after the vectors";
        int major = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(7));
        if (major != 2) return $"USearch format {major}, this build reads 2";
        byte scalar = settings.Quantization switch { HnswQuantization.BFloat16 => KindBFloat16, HnswQuantization.Float16 => KindFloat16, _ => KindFloat32 };
        if (head[13] != MetricCos || head[14] != scalar || head[15] != KindUInt64 || head[16] != KindUInt32)
            return $"metric/scalar/key/slot kinds {head[13]}/{head[14]}/{head[15]}/{head[16]}, expected {MetricCos}/{scalar}/{KindUInt64}/{KindUInt32}";
        ulong present = BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(17)), deleted = BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(25));
        ulong dims = BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(33));
        if (dims != (ulong)dimension) return $"the head says {dims}-d vectors, expected {dimension}";
        if (head[41] != 0) return "a multi-vector index (several vectors per key)";
        if (present != (ulong)liveKeys.Count) return $"the head counts {present} faces, the gallery's digest covers {liveKeys.Count}";
        if (deleted > (ulong)rows || present + deleted != (ulong)rows) return $"the head counts {present} faces and {deleted} removed, the vector table holds {rows}";

        // the graph's header and the level of each node
        r.What = "the graph header";
        ulong size = r.UInt64(), m = r.UInt64(), mBase = r.UInt64(), maxLevel = r.UInt64(), entry = r.UInt64();
        if (size != (ulong)rows) return $"the graph has {size} nodes, the vector table {rows}";
        if (m != (ulong)settings.Connectivity) return $"connectivity {m}, expected {settings.Connectivity}";
        if (mBase < m || mBase > MaxConnectivity) return $"base connectivity {mBase} (connectivity {m})";
        // an empty graph (USearch stores its top level as -1 then) has nothing a search could follow
        if (size == 0) return r.Remaining == 0 && present == 0 ? null : $"an empty graph with {r.Remaining} bytes after it";
        if (maxLevel >= MaxLevels || entry >= size) return $"entry node {entry} on level {maxLevel} ({size} nodes)";
        int n = (int)rows;
        long levelBytes = 4 + 4L * (long)mBase, upperBytes = 4 + 4L * (long)m;
        if (2L * n > r.Remaining) return $"{n} node levels do not fit the {r.Remaining} bytes left";
        r.What = "the node levels";
        var levels = new short[n];
        int top = -1;
        for (int i = 0; i < n; i++)
        {
            levels[i] = r.Int16();
            if (levels[i] < 0 || (ulong)levels[i] > maxLevel) return $"node {i} on level {levels[i]}, the graph's top level is {maxLevel}";
            top = Math.Max(top, levels[i]);
        }
        if (((ulong)top != maxLevel || (ulong)levels[entry] != maxLevel))
            return $"top level {maxLevel}, but the highest node is on {top} and the entry node on {levels[entry]}";

        // the nodes: every neighbour a node in range that reaches the level it is linked on
        var expected = new HashSet<long>(liveKeys);
        var seen = new HashSet<long>();
        ulong removed = 0;
        var node = new byte[10 + levelBytes + upperBytes * (long)maxLevel];
        for (int i = 0; i < n; i++)
        {
            r.What = $"node {i}";
            int nodeBytes = (int)(10 + levelBytes + upperBytes * levels[i]);
            r.ReadInto(node, nodeBytes);
            var s = node.AsSpan(0, nodeBytes);
            ulong key = BinaryPrimitives.ReadUInt64LittleEndian(s);
            if (key == RemovedKey) removed++;
            else if (key > long.MaxValue || !expected.Contains((long)key)) return $"node {i} holds key {key}, not a face of the gallery";
            else if (!seen.Add((long)key)) return $"key {key} on two nodes";
            short level = BinaryPrimitives.ReadInt16LittleEndian(s[8..]);
            if (level != levels[i]) return $"node {i} says level {level}, the level table {levels[i]}";
            int at = 10;
            for (int l = 0; l <= level; l++)
            {
                int capacity = (int)(l == 0 ? mBase : m);
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
                if (count > capacity) return $"node {i} has {count} neighbours on level {l}, room for {capacity}";
                for (int j = 0; j < count; j++)
                {
                    uint slot = BinaryPrimitives.ReadUInt32LittleEndian(s[(at + 4 + 4 * j)..]);
                    if (slot >= (uint)n) return $"node {i} links to node {slot} on level {l}, the graph has {n}";
                    if (levels[slot] < l) return $"node {i} links to node {slot} on level {l}, which only reaches level {levels[slot]}";
                }
                at += 4 + 4 * capacity;
            }
        }
        if (removed != deleted) return $"{removed} removed nodes, the head counts {deleted}";
        if (seen.Count != expected.Count) return $"the graph holds {seen.Count} of the gallery's {expected.Count} faces";
        if (r.Remaining != 0) return $"{r.Remaining} bytes after the last node";
        return null;
    }

    // Sequential little-endian reads that count what is left, so no length read from the file sizes an allocation unchecked.
    private sealed class Reader(Stream s, long length)
    {
        private readonly byte[] _b = new byte[8];
        public long Position { get; private set; }
        public long Remaining => length - Position;
        public string What { get; set; } = "";

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n > Remaining) throw new EndOfStreamException();
            s.ReadExactly(_b, 0, n);
            Position += n;
            return _b.AsSpan(0, n);
        }

        public short Int16() => BinaryPrimitives.ReadInt16LittleEndian(Take(2));
        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public byte[] Bytes(int n)
        {
            if (n > Remaining) throw new EndOfStreamException();
            var b = new byte[n];
            s.ReadExactly(b);
            Position += n;
            return b;
        }

        public void ReadInto(byte[] buffer, int n)
        {
            if (n > Remaining) throw new EndOfStreamException();
            s.ReadExactly(buffer, 0, n);
            Position += n;
        }

        public void Skip(long n)
        {
            if (n > Remaining) throw new EndOfStreamException();
            if (s.CanSeek) s.Seek(n, SeekOrigin.Current);
            else
            {
                var scratch = new byte[81920];
                for (long left = n; left > 0;) { int k = (int)Math.Min(left, scratch.Length); s.ReadExactly(scratch, 0, k); left -= k; }
            }
            Position += n;
        }
    }
}
