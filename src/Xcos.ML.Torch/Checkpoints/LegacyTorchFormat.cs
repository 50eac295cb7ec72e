using System.Buffers.Binary;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>
/// Reader of the legacy (PyTorch &lt; 1.6) <c>torch.save</c> format, in which InsightFace_Pytorch, the original xCos
/// and other older checkpoints were written: five concatenated pickles (magic number, protocol version 1001, system
/// info, the object, the list of storage keys), then each storage as an int64 element count and its raw bytes.
/// The pickles are read by the restricted unpickler in checkpoint mode: nothing in them is constructed or run.
/// </summary>
internal static class LegacyTorchFormat
{
    // protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c: PROTO 2, LONG1 with 10 little-endian bytes
    private static readonly byte[] MagicPickle = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'];

    /// <summary>True when the stream starts with the legacy magic number (position is restored).</summary>
    public static bool HasMagic(Stream stream)
    {
        var start = stream.Position;
        var head = new byte[MagicPickle.Length];
        var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = start;
        return n == head.Length && head.AsSpan().SequenceEqual(MagicPickle);
    }

    /// <summary>Reads the saved object, converted by <paramref name="tree"/>; only the bytes of the storages that
    /// <paramref name="storagesToRead"/> names (given the converted object) are kept.</summary>
    public static object? Read(Stream stream, string source, TorchPickleTree tree, Func<object?, IReadOnlySet<string>> storagesToRead)
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        var data = ms.GetBuffer().AsMemory(0, (int)ms.Length);
        var pos = 0;
        var pickles = new ReadOnlyMemory<byte>[5];
        for (var i = 0; i < 5; i++)
        {
            var end = PickleScanner.End(data.Span, pos);
            pickles[i] = data[pos..end];
            pos = end;
        }
        if (!pickles[0].Span.SequenceEqual(MagicPickle)) throw new InvalidDataException($"{source}: legacy torch file with a bad magic number.");
        if (Xcos.ML.Data.RestrictedUnpickler.LoadRecords(new MemoryStream(pickles[2].ToArray()), source) is OrderedDictionary<object, object?> sys
            && sys.TryGetValue("little_endian", out var le) && le is false)
            throw new InvalidDataException($"{source}: big-endian legacy torch files are not supported.");
        var root = Xcos.ML.Data.RestrictedUnpickler.LoadRecords(new MemoryStream(pickles[3].ToArray()), source);
        var converted = tree.Convert(root);
        var keysObj = Xcos.ML.Data.RestrictedUnpickler.LoadRecords(new MemoryStream(pickles[4].ToArray()), source);
        if (keysObj is not List<object?> keyList) throw new InvalidDataException($"{source}: legacy torch file without its list of storage keys.");
        var keep = storagesToRead(converted);

        // storages follow in the order of the key list: int64 element count, then the elements
        foreach (var k in keyList)
        {
            var key = k?.ToString() ?? "";
            if (!tree.Storages.TryGetValue(key, out var s)) throw new InvalidDataException($"{source}: legacy storage '{key}' is listed but never used.");
            if (pos + 8 > data.Length) throw new InvalidDataException($"{source}: legacy torch file truncated before storage '{key}'.");
            var count = BinaryPrimitives.ReadInt64LittleEndian(data.Span[pos..]);
            pos += 8;
            if (count != s.Count || pos + s.ByteLength > data.Length)
                throw new InvalidDataException($"{source}: legacy storage '{key}' declares {s.Count} elements, header says {count}, {data.Length - pos} bytes left.");
            if (keep.Contains(key)) s.Data = data.Slice(pos, (int)s.ByteLength).ToArray();
            pos += (int)s.ByteLength;
        }
        return converted;
    }
}

/// <summary>Finds where a pickle ends (just after its STOP opcode) without running it.</summary>
internal static class PickleScanner
{
    public static int End(ReadOnlySpan<byte> data, int start)
    {
        var p = start;
        while (true)
        {
            if (p >= data.Length) throw new InvalidDataException($"truncated pickle starting at byte {start}.");
            var op = data[p++];
            // Opcodes grouped by argument layout, several a line; the formatter would give each its own line.
#pragma warning disable format
            switch (op)
            {
                case (byte)'.': return p; // STOP
                // no argument
                case (byte)'(': case (byte)'0': case (byte)'1': case (byte)'2': case (byte)'N': case 0x88: case 0x89:
                case (byte)'a': case (byte)'e': case (byte)'b': case (byte)'d': case (byte)'}': case (byte)']': case (byte)')':
                case (byte)'t': case 0x85: case 0x86: case 0x87: case (byte)'l': case (byte)'o': case (byte)'R': case (byte)'s':
                case (byte)'u': case (byte)'Q': case 0x81: case 0x92: case 0x93: case 0x94: case 0x8f: case 0x90: case 0x91:
                case 0x97: case 0x98:
                    break;
                // fixed-size argument
                case (byte)'K': case (byte)'h': case (byte)'q': case 0x80: case 0x82: p += 1; break;
                case (byte)'M': case 0x83: p += 2; break;
                case (byte)'J': case (byte)'j': case (byte)'r': case 0x84: p += 4; break;
                case (byte)'G': case 0x95: p += 8; break;
                // length-prefixed argument
                case (byte)'U': case 0x8c: case (byte)'C': case 0x8a: p += 1 + Need(data, p, 1)[0]; break;
                case (byte)'T': case (byte)'X': case (byte)'B': case 0x8b:
                    p += 4 + checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Need(data, p, 4))); break;
                case 0x8d: case 0x8e: case 0x96:
                    p += 8 + checked((int)BinaryPrimitives.ReadUInt64LittleEndian(Need(data, p, 8))); break;
                // newline-terminated argument(s)
                case (byte)'I': case (byte)'L': case (byte)'S': case (byte)'V': case (byte)'F': case (byte)'g': case (byte)'p': case (byte)'P':
                    p = Line(data, p); break;
                case (byte)'c': case (byte)'i':
                    p = Line(data, Line(data, p)); break;
                default:
                    throw new InvalidDataException($"unknown pickle opcode 0x{op:x2} at byte {p - 1}.");
            }
#pragma warning restore format
        }
    }

    private static ReadOnlySpan<byte> Need(ReadOnlySpan<byte> data, int p, int n) =>
        p + n <= data.Length ? data.Slice(p, n) : throw new InvalidDataException("truncated pickle.");

    private static int Line(ReadOnlySpan<byte> data, int p)
    {
        var nl = data[p..].IndexOf((byte)'\n');
        if (nl < 0) throw new InvalidDataException("truncated pickle.");
        return p + nl + 1;
    }
}
