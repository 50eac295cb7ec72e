using System.Buffers.Binary;
using System.Collections;
using System.Text;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;
using TorchSharp;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>
/// Reader of the legacy (PyTorch &lt; 1.6) <c>torch.save</c> format, in which InsightFace_Pytorch and other older
/// checkpoints were published: five concatenated pickles (magic number, protocol version 1001, system info,
/// the object, the list of storage keys), then each storage as an int64 element count and its raw bytes.
/// </summary>
internal static class LegacyTorchFormat
{
    // protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c: PROTO 2, LONG1 with 10 little-endian bytes
    private static readonly byte[] MagicPickle = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'];

    // the object pickle's tensor rebuild function is redirected to this private name, so that the global
    // registration TorchSharp.PyBridge makes for torch._utils._rebuild_tensor_v2 is left alone
    private const string RebuildModule = "xcos_ml_legacy_torch";
    private const string RebuildName = "rebuild_tensor_v2";
    private static readonly byte[] RebuildGlobal = Encoding.ASCII.GetBytes("ctorch._utils\n_rebuild_tensor_v2\n");
    private static readonly byte[] RebuildGlobalPatched = Encoding.ASCII.GetBytes($"c{RebuildModule}\n{RebuildName}\n");

    static LegacyTorchFormat()
    {
        // touch PyBridge's unpickler first so its registrations (OrderedDict, ...) exist and stay in force
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(TorchSharp.PyBridge.PyTorchUnpickler).TypeHandle);
        Unpickler.registerConstructor(RebuildModule, RebuildName, new TensorRefConstructor());
    }

    /// <summary>True when the stream starts with the legacy magic number (position is restored).</summary>
    public static bool HasMagic(Stream stream)
    {
        var start = stream.Position;
        var head = new byte[MagicPickle.Length];
        var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = start;
        return n == head.Length && head.AsSpan().SequenceEqual(MagicPickle);
    }

    /// <summary>Reads the saved object; tensors come back as CPU tensors, dicts as <see cref="Hashtable"/>.</summary>
    public static Hashtable Read(Stream stream)
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
        if (!pickles[0].Span.SequenceEqual(MagicPickle)) throw new InvalidDataException("legacy torch file: bad magic number.");

        var storages = new Dictionary<string, LegacyStorage>(StringComparer.Ordinal);
        object main;
        using (var up = new StorageUnpickler(storages))
            main = up.loads(Patch(pickles[3].ToArray()));
        object keysObj;
        using (var up = new Unpickler())
            keysObj = up.loads(pickles[4].ToArray());
        var keys = ((IEnumerable)keysObj).Cast<object>().Select(k => k.ToString()!).ToList();

        // storages follow in the order of the key list: int64 element count, then the elements
        foreach (var key in keys)
        {
            if (!storages.TryGetValue(key, out var s)) throw new InvalidDataException($"legacy torch file: storage '{key}' is listed but never used.");
            if (pos + 8 > data.Length) throw new InvalidDataException($"legacy torch file: truncated before storage '{key}'.");
            var count = BinaryPrimitives.ReadInt64LittleEndian(data.Span[pos..]);
            pos += 8;
            var bytes = checked(count * s.ElementSize);
            if (count != s.Count || pos + bytes > data.Length)
                throw new InvalidDataException($"legacy torch file: storage '{key}' declares {s.Count} elements, header says {count}, {data.Length - pos} bytes left.");
            s.Data = data.Slice(pos, (int)bytes).ToArray();
            pos += (int)bytes;
        }
        if (main is not Hashtable root) throw new InvalidCastException($"legacy torch file holds a {main?.GetType().Name ?? "None"}, not a dict.");
        return Materialize(root);
    }

    private static byte[] Patch(byte[] pickle)
    {
        var span = pickle.AsSpan();
        var at = span.IndexOf(RebuildGlobal);
        if (at < 0) return pickle;
        var patched = new byte[pickle.Length - RebuildGlobal.Length + RebuildGlobalPatched.Length];
        span[..at].CopyTo(patched);
        RebuildGlobalPatched.CopyTo(patched.AsSpan(at));
        span[(at + RebuildGlobal.Length)..].CopyTo(patched.AsSpan(at + RebuildGlobalPatched.Length));
        return patched;
    }

    // replaces tensor references (at any dict depth) by tensors once all storage bytes are known
    private static Hashtable Materialize(Hashtable table)
    {
        foreach (var key in table.Keys.Cast<object>().ToList())
        {
            switch (table[key])
            {
                case TensorRef r: table[key] = r.Build(); break;
                case Hashtable h: Materialize(h); break;
            }
        }
        return table;
    }

    private sealed class LegacyStorage(string key, ScalarType dtype, long count, int elementSize)
    {
        public string Key { get; } = key;
        public ScalarType DType { get; } = dtype;
        public long Count { get; } = count;
        public int ElementSize { get; } = elementSize;
        public byte[]? Data { get; set; }
    }

    private sealed class TensorRef(LegacyStorage storage, long offset, long[] size, long[] stride)
    {
        public Tensor Build()
        {
            var data = storage.Data ?? throw new InvalidDataException($"legacy torch file: storage '{storage.Key}' has no data.");
            using var scope = NewDisposeScope();
            var flat = empty([storage.Count], storage.DType);
            flat.bytes = data;
            return flat.as_strided(size, stride, offset).clone().MoveToOuterDisposeScope();
        }
    }

    private sealed class TensorRefConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
            var storage = args[0] as LegacyStorage ?? throw new InvalidDataException("legacy torch file: tensor without a storage.");
            return new TensorRef(storage, Convert.ToInt64(args[1]), Longs(args[2]), Longs(args[3]));
        }

        private static long[] Longs(object o) => ((IEnumerable)o).Cast<object>().Select(Convert.ToInt64).ToArray();
    }

    private sealed class StorageUnpickler(Dictionary<string, LegacyStorage> storages) : Unpickler
    {
        protected override object persistentLoad(object pid)
        {
            // ('storage', storage_type, root_key, location, size, view_metadata)
            var t = pid as object[] ?? throw new InvalidDataException("legacy torch file: unexpected persistent id.");
            if (t.Length < 5 || t[0] as string != "storage") throw new InvalidDataException("legacy torch file: unexpected persistent id.");
            if (t.Length > 5 && t[5] is not null) throw new NotSupportedException("legacy torch file: storage views are not supported.");
            var typeName = (t[1] as ClassDictConstructor)?.name ?? t[1]?.ToString() ?? "";
            var key = t[2].ToString()!;
            if (storages.TryGetValue(key, out var known)) return known;
            var (dtype, size) = typeName switch
            {
                "FloatStorage" => (ScalarType.Float32, 4),
                "DoubleStorage" => (ScalarType.Float64, 8),
                "HalfStorage" => (ScalarType.Float16, 2),
                "BFloat16Storage" => (ScalarType.BFloat16, 2),
                "LongStorage" => (ScalarType.Int64, 8),
                "IntStorage" => (ScalarType.Int32, 4),
                "ShortStorage" => (ScalarType.Int16, 2),
                "CharStorage" => (ScalarType.Int8, 1),
                "ByteStorage" => (ScalarType.Byte, 1),
                "BoolStorage" => (ScalarType.Bool, 1),
                _ => throw new NotSupportedException($"legacy torch file: storage type '{typeName}' is not supported."),
            };
            var s = new LegacyStorage(key, dtype, Convert.ToInt64(t[4]), size);
            storages[key] = s;
            return s;
        }
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
