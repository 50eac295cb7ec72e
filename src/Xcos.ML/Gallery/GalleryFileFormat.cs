using System.Buffers.Binary;
using System.Text;

namespace Xcos.ML.Gallery;

/// <summary>
/// The gallery file, version 2: an append-only log of checksummed records, little-endian throughout.
/// <code>
/// file    = magic "XCOSGAL1" (8 bytes), header record, then face and remove records in the order they happened
/// record  = uint32 n, n bytes body (byte type, payload), uint32 CRC-32 (IEEE) of the body
/// header  (type 1) = int32 version (2), string model name, string model hash, int32 embedding dim, int32 code length,
///                    int64 created (Unix seconds, UTC), string codes (version 2 only: what the face codes are,
///                    <see cref="GalleryModelStamp.Codes"/>: "model" or "map:&lt;feature map&gt;")
/// face    (type 2) = int64 face id, string identity, string source file, int32 dim, float32[dim] embedding,
///                    int32 code length, float32[code length] code
/// remove  (type 3) = string identity (removes every face enrolled under it before this record)
/// string  = int32 byte count, UTF-8 bytes
/// </code>
/// A record is complete once its checksum is on disk (each enrolment is flushed to disk before it returns). A file
/// that ends inside a record, or whose last record fails its checksum, was cut by a crash mid-write: that record was
/// never acknowledged and is dropped (and truncated away when the gallery is opened for writing). A bad checksum
/// anywhere else is corruption and an error. Compaction writes the live records to a temporary file next to the
/// gallery, flushes it and renames it over the gallery, so a crash leaves either the old or the new file.
/// Versions: 1 had no codes field (its codes are the model's own, "model"); 2 adds it, so a gallery of learned-xCos
/// codes (feature maps) is told from one of weight-derived codes. Version-1 files are read; new headers (and the
/// header a compaction rewrites) are version 2.
/// </summary>
public static class GalleryFileFormat
{
    /// <summary>The magic bytes (the format; the header record carries the version).</summary>
    public static ReadOnlySpan<byte> Magic => "XCOSGAL1"u8;
    /// <summary>The format version written in the header.</summary>
    public const int Version = 2;
    /// <summary>The oldest version this build reads.</summary>
    public const int OldestReadable = 1;
    internal const byte HeaderType = 1, FaceType = 2, RemoveType = 3;
    private const int MaxRecord = 1 << 30;

    /// <summary>One decoded record; <see cref="CodeOffset"/> is where a face's code starts in the file.</summary>
    internal sealed record Entry(byte Type, long Offset, long End, long FaceId = 0, string Identity = "", string Source = "", float[]? Embedding = null,
        long CodeOffset = 0, int CodeLength = 0);

    /// <summary>What <see cref="Read"/> found.</summary>
    internal sealed record Contents(GalleryModelStamp Model, List<Entry> Entries, long GoodLength, long FileLength, string? TornTail);

    internal static byte[] HeaderRecord(GalleryModelStamp m)
    {
        using var w = new Writer();
        w.Byte(HeaderType); w.Int(Version); w.Str(m.Name); w.Str(m.Hash); w.Int(m.EmbeddingDim); w.Int(m.CodeLength);
        w.Long(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        w.Str(m.Codes);
        return w.Frame();
    }

    /// <summary>A face record and the offset of its code within the returned bytes.</summary>
    internal static (byte[] Bytes, int CodeOffset) FaceRecord(long id, string identity, string source, ReadOnlySpan<float> embedding, ReadOnlySpan<float> code)
    {
        using var w = new Writer();
        w.Byte(FaceType); w.Long(id); w.Str(identity); w.Str(source); w.Floats(embedding);
        int codeAt = w.Length + 4 + 4;   // frame length prefix, then the code's count
        w.Floats(code);
        return (w.Frame(), codeAt);
    }

    internal static byte[] RemoveRecord(string identity)
    {
        using var w = new Writer();
        w.Byte(RemoveType); w.Str(identity);
        return w.Frame();
    }

    /// <summary>Reads every complete record of a gallery file (codes are skipped; read them by offset).</summary>
    /// <exception cref="InvalidDataException">Not a gallery file, another version, or a corrupt record (the message names the file and offset).</exception>
    internal static Contents Read(Stream s, string path)
    {
        long length = s.Length;
        var magic = new byte[8];
        if (length < 8 || s.ReadAtLeast(magic, 8, throwOnEndOfStream: false) < 8 || !magic.AsSpan().SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not an xcos gallery file (expected the magic XCOSGAL1)");
        GalleryModelStamp? model = null;
        var entries = new List<Entry>();
        long pos = 8;
        var lenBytes = new byte[4];
        string? torn = null;
        while (pos < length)
        {
            if (length - pos < 4) { torn = $"{length - pos} stray bytes at offset {pos}"; break; }
            s.Position = pos;
            s.ReadExactly(lenBytes);
            uint n = BinaryPrimitives.ReadUInt32LittleEndian(lenBytes);
            if (n == 0 || n > MaxRecord)
            {
                if (pos + 8 >= length) { torn = $"an incomplete record at offset {pos}"; break; }
                throw new InvalidDataException($"{path}: corrupt record length {n} at offset {pos}");
            }
            if (pos + 4 + n + 4 > length) { torn = $"a record cut short at offset {pos} ({length - pos} of {n + 8} bytes)"; break; }
            var body = new byte[n];
            s.ReadExactly(body);
            s.ReadExactly(lenBytes);
            long end = pos + 4 + n + 4;
            if (Crc32.Compute(body) != BinaryPrimitives.ReadUInt32LittleEndian(lenBytes))
            {
                if (end == length) { torn = $"a last record with a bad checksum at offset {pos}"; break; }
                throw new InvalidDataException($"{path}: record at offset {pos} fails its checksum (the file is corrupt; records after it are intact)");
            }
            var r = new Reader(body, path, pos);
            byte type = r.Byte();
            switch (type)
            {
                case HeaderType when model is null:
                    int version = r.Int();
                    if (version is < OldestReadable or > Version) throw new InvalidDataException($"{path}: gallery format version {version}; this build reads versions {OldestReadable} to {Version}");
                    var (name, hash, dim, codeLength) = (r.Str(), r.Str(), r.Int(), r.Int());
                    r.Long();   // created
                    model = new GalleryModelStamp(name, hash, dim, codeLength, version >= 2 ? r.Str() : GalleryModelStamp.ModelCodes);
                    break;
                case FaceType when model is not null:
                    long id = r.Long();
                    string identity = r.Str(), source = r.Str();
                    var emb = r.Floats();
                    int codeLen = r.Int();
                    long codeAt = pos + 4 + r.Position;
                    if (emb.Length != model.EmbeddingDim || codeLen != model.CodeLength || r.Position + 4L * codeLen != body.Length)
                        throw new InvalidDataException($"{path}: face record at offset {pos} holds a {emb.Length}-d embedding and {codeLen}-float code; the header says {model.EmbeddingDim} and {model.CodeLength}");
                    entries.Add(new Entry(type, pos, end, id, identity, source, emb, codeAt, codeLen));
                    break;
                case RemoveType when model is not null:
                    entries.Add(new Entry(type, pos, end, Identity: r.Str()));
                    break;
                default:
                    throw new InvalidDataException($"{path}: unexpected record type {type} at offset {pos}" + (model is null ? " (expected the header first)" : ""));
            }
            pos = end;
        }
        if (model is null) throw new InvalidDataException($"{path}: the gallery header record is missing or incomplete");
        return new Contents(model, entries, pos, length, torn);
    }

    private sealed class Writer : IDisposable
    {
        private readonly MemoryStream _m = new();
        private readonly byte[] _b = new byte[8];
        public int Length => (int)_m.Length;
        public void Dispose() => _m.Dispose();
        public void Byte(byte v) => _m.WriteByte(v);
        public void Int(int v) { BinaryPrimitives.WriteInt32LittleEndian(_b, v); _m.Write(_b, 0, 4); }
        public void Long(long v) { BinaryPrimitives.WriteInt64LittleEndian(_b, v); _m.Write(_b, 0, 8); }
        public void Str(string v) { var u = Encoding.UTF8.GetBytes(v); Int(u.Length); _m.Write(u); }
        public void Floats(ReadOnlySpan<float> v)
        {
            Int(v.Length);
            var bytes = new byte[4 * v.Length];
            for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), v[i]);
            _m.Write(bytes);
        }
        public byte[] Frame()
        {
            var body = _m.ToArray();
            var f = new byte[body.Length + 8];
            BinaryPrimitives.WriteUInt32LittleEndian(f, (uint)body.Length);
            body.CopyTo(f, 4);
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4 + body.Length), Crc32.Compute(body));
            return f;
        }
    }

    private sealed class Reader(byte[] body, string path, long offset)
    {
        public int Position { get; private set; }
        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || Position + n > body.Length) throw new InvalidDataException($"{path}: record at offset {offset} is shorter than its fields");
            var s = body.AsSpan(Position, n);
            Position += n;
            return s;
        }
        public byte Byte() => Take(1)[0];
        public int Int() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        public long Long() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public string Str() => Encoding.UTF8.GetString(Take(Int()));
        public float[] Floats()
        {
            int n = Int();
            var src = Take(checked(4 * n));
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(src.Slice(4 * i));
            return v;
        }
    }

    /// <summary>Reads a face's code at <paramref name="offset"/>.</summary>
    internal static float[] ReadCode(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, int length)
    {
        var bytes = new byte[4 * length];
        int got = 0;
        while (got < bytes.Length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(got), offset + got);
            if (n == 0) throw new InvalidDataException($"gallery file ends inside a face code at offset {offset}");
            got += n;
        }
        var v = new float[length];
        for (int i = 0; i < length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
        return v;
    }
}
