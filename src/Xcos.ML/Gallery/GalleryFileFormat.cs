using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Xcos.ML.Gallery;

/// <summary>
/// The gallery file, version 4: an append-only log of checksummed records, little-endian throughout.
/// <code>
/// file    = magic "XCOSGAL4" (8 bytes), header record, then face and remove records in the order they happened
/// record  = uint32 n, uint32 CRC-32 (IEEE) of those 4 length bytes, n bytes body (byte type, payload), uint32 CRC-32 of the body
/// header  (type 1) = int32 version (4), string model name, string model hash, int32 embedding dim, int32 code length,
///                    int64 created (Unix seconds, UTC), string codes (what the face codes are,
///                    <see cref="GalleryModelStamp.Codes"/>: "model", or "map:&lt;feature map&gt;" for a learned xCos head)
/// face    (type 2) = int64 face id, string identity, string source file, int32 dim, float32[dim] embedding,
///                    int32 code length, float32[code length] code, string content (the SHA-256 of the photo file's bytes as
///                    "sha256:&lt;hex&gt;", so a rerun of `xcos enroll` skips photos already enrolled; "" when not known)
/// remove  (type 3) = string identity (removes every face enrolled under it before this record)
/// string  = int32 byte count, UTF-8 bytes
/// </code>
/// A record is complete once its body checksum is on disk (each enrolment is flushed to disk before it returns). Only a
/// crash mid-append can leave an incomplete record, and only at the end, so the reader drops a tail only when it is
/// provably one: fewer than 8 bytes, a length whose own checksum holds but that runs past the end of the file, a last
/// record whose length checks and ends exactly at the end but whose body does not, or bytes that are all zero (a file
/// extended but never written). Anything else (a length that fails its checksum, a bad body before the last record) is
/// corruption: the file is refused and nothing is truncated; <see cref="FaceGallery.Salvage"/> (`xcos gallery salvage`)
/// keeps every record whose checksums hold. Compaction writes the live records to a temporary file next to the
/// gallery, flushes it and renames it over the gallery's resolved target, so a crash leaves either the old or the new
/// file.
/// <para>
/// Version 1 ("XCOSGAL1", header version 1) frames records without the length checksum (uint32 n, body, uint32 CRC-32).
/// It is still read, and appended to in its own framing; compaction rewrites it as the current version. A version 1
/// length that runs past the end is a cut tail only when no valid record starts anywhere after it.
/// </para>
/// <para>
/// Version 3 adds the header's codes field (versions 1 and 2 hold the model's own codes, "model"), so a gallery of a
/// learned head's codes (feature maps) is told from one of weight-derived codes; framing as version 2.
/// </para>
/// <para>
/// Version 4 adds the face record's content field (versions 1 to 3 hold none: their faces read as content ""). An
/// older file is appended to in its own version; an enrolment that brings a content hash first compacts it to the
/// current version (atomically, as any compaction), so the hash is kept.
/// </para>
/// <para>
/// What stays on disk: a removal appends a remove record; the removed faces' records (names, source paths,
/// embeddings, codes, content hashes) stay in the file until it is compacted, which happens on its own once a removal
/// leaves more dead faces than <see cref="FaceGalleryOptions.CompactAfterDeadFaces"/> and than live ones, or at once
/// with `xcos enroll --remove NAME --purge` (<see cref="FaceGallery.Compact"/>). Compaction writes a new file and
/// renames it over the old one, so the old bytes are unlinked, not overwritten: until the file system reuses those
/// blocks they remain on the device, and in any copy or backup made before (the ".damaged" copy a salvage keeps too).
/// The HNSW graph ("&lt;gallery&gt;.hnsw") holds unit embeddings, no names; it is rewritten without removed faces
/// when the gallery is next closed after a change.
/// </para>
/// </summary>
internal static class GalleryFileFormat
{
    /// <summary>The magic bytes of the version written now (format and version 4).</summary>
    public static ReadOnlySpan<byte> Magic => "XCOSGAL4"u8;
    /// <summary>The format version written in the header of new files.</summary>
    public const int Version = 4;
    private static ReadOnlySpan<byte> MagicPrefix => "XCOSGAL"u8;
    internal const byte HeaderType = 1, FaceType = 2, RemoveType = 3;
    private const int MaxRecord = 1 << 30;

    /// <summary>One decoded record; <see cref="CodeOffset"/> is where a face's code starts in the file.</summary>
    internal sealed record Entry(byte Type, long Offset, long End, long FaceId = 0, string Identity = "", string Source = "", float[]? Embedding = null,
        long CodeOffset = 0, int CodeLength = 0, string ContentHash = "");

    /// <summary>What <see cref="Read"/> found.</summary>
    internal sealed record Contents(GalleryModelStamp Model, List<Entry> Entries, long GoodLength, long FileLength, string? TornTail, int Version);

    /// <summary>Bytes before a record's body: the length, and from version 2 on its checksum.</summary>
    internal static int Prefix(int version) => version >= 2 ? 8 : 4;

    internal static byte[] MagicOf(int version) => Encoding.ASCII.GetBytes($"XCOSGAL{version}");

    internal static byte[] HeaderRecord(GalleryModelStamp m, int version = Version)
    {
        using var w = new Writer(version);
        w.Byte(HeaderType); w.Int(version); w.Str(m.Name); w.Str(m.Hash); w.Int(m.EmbeddingDim); w.Int(m.CodeLength);
        w.Long(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        if (version >= 3) w.Str(m.Codes);
        else if (m.Codes != GalleryModelStamp.ModelCodes) throw new InvalidOperationException($"a version {version} gallery cannot record codes '{m.Codes}'");
        return w.Frame();
    }

    /// <summary>A face record and the offset of its code within the returned bytes.</summary>
    internal static (byte[] Bytes, int CodeOffset) FaceRecord(long id, string identity, string source, ReadOnlySpan<float> embedding, ReadOnlySpan<float> code,
        int version = Version, string contentHash = "")
    {
        using var w = new Writer(version);
        w.Byte(FaceType); w.Long(id); w.Str(identity); w.Str(source); w.Floats(embedding);
        int codeAt = w.Length + Prefix(version) + 4;   // frame prefix, then the code's count
        w.Floats(code);
        if (version >= 4) w.Str(contentHash);
        else if (contentHash.Length > 0) throw new InvalidOperationException($"a version {version} gallery cannot record a content hash");
        return (w.Frame(), codeAt);
    }

    internal static byte[] RemoveRecord(string identity, int version = Version)
    {
        using var w = new Writer(version);
        w.Byte(RemoveType); w.Str(identity);
        return w.Frame();
    }

    /// <summary>Reads every complete record of a gallery file (codes are skipped; read them by offset).</summary>
    /// <exception cref="InvalidDataException">Not a gallery file, an unknown version, or a corrupt record (the message names the file and offset, and the salvage command).</exception>
    internal static Contents Read(Stream s, string path)
    {
        long length = s.Length;
        int version = ReadMagic(s, path);
        int prefix = Prefix(version);
        GalleryModelStamp? model = null;
        var entries = new List<Entry>();
        long pos = 8;
        string? torn = null;
        while (pos < length)
        {
            var frame = ReadFrame(s, pos, length, version);
            if (frame.Body is null)
            {
                torn = frame.Torn ?? (IsTornTail(s, pos, length, version) ? $"an incomplete record at offset {pos}" : null);
                if (torn is null) throw Corrupt(path, $"{frame.Problem} at offset {pos}");
                break;
            }
            long end = pos + prefix + frame.Body.Length + 4;
            var r = new Reader(frame.Body, path, pos);
            byte type = r.Byte();
            switch (type)
            {
                case HeaderType when model is null:
                    int headerVersion = r.Int();
                    if (headerVersion != version) throw new InvalidDataException($"{path}: gallery format version {headerVersion} in a version {version} file; this build reads versions 1 to {Version}");
                    model = HeaderStamp(r, version);
                    break;
                case FaceType when model is not null:
                    entries.Add(FaceEntry(r, model, path, pos, end, prefix, frame.Body.Length, version));
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
        return new Contents(model, entries, pos, length, torn, version);
    }

    // The header's fields after its version: the model stamp, with the codes field from version 3 on.
    private static GalleryModelStamp HeaderStamp(Reader r, int version)
    {
        var (name, hash, dim, codeLength) = (r.Str(), r.Str(), r.Int(), r.Int());
        r.Long();   // created
        return new GalleryModelStamp(name, hash, dim, codeLength, version >= 3 ? r.Str() : GalleryModelStamp.ModelCodes);
    }

    private static int ReadMagic(Stream s, string path)
    {
        var magic = new byte[8];
        s.Position = 0;
        if (s.Length < 8 || s.ReadAtLeast(magic, 8, throwOnEndOfStream: false) < 8 || !magic.AsSpan(0, 7).SequenceEqual(MagicPrefix) || magic[7] is < (byte)'1' or > (byte)('0' + Version))
            throw new InvalidDataException($"{path}: not an xcos gallery file (expected the magic XCOSGAL1 to XCOSGAL{Version})");
        return magic[7] - '0';
    }

    private static Entry FaceEntry(Reader r, GalleryModelStamp model, string path, long pos, long end, int prefix, int bodyLength, int version)
    {
        long id = r.Long();
        string identity = r.Str(), source = r.Str();
        var emb = r.Floats();
        int codeLen = r.Int();
        long codeAt = pos + prefix + r.Position;
        if (emb.Length != model.EmbeddingDim || codeLen != model.CodeLength || (version < 4 && r.Position + 4L * codeLen != bodyLength))
            throw new InvalidDataException($"{path}: face record at offset {pos} holds a {emb.Length}-d embedding and {codeLen}-float code; the header says {model.EmbeddingDim} and {model.CodeLength}");
        string content = "";
        if (version >= 4)
        {
            r.Skip(checked(4 * codeLen));
            content = r.Str();
            if (r.Position != bodyLength) throw new InvalidDataException($"{path}: face record at offset {pos} has {bodyLength - r.Position} bytes after its fields");
        }
        return new Entry(FaceType, pos, end, id, identity, source, emb, codeAt, codeLen, content);
    }

    private static InvalidDataException Corrupt(string path, string what) =>
        new($"{path}: corrupt gallery: {what}; nothing was changed. `xcos gallery salvage --gallery {path}` keeps every record whose checksum holds " +
            "(the damaged file is kept next to it)");

    /// <summary>A frame at <c>pos</c>: its body when both checksums hold, else why not (<c>Torn</c>: provably a cut tail).</summary>
    private readonly record struct Frame(byte[]? Body, string? Torn, string? Problem);

    private static Frame ReadFrame(Stream s, long pos, long length, int version)
    {
        int prefix = Prefix(version);
        if (length - pos < prefix + 4) return new(null, $"{length - pos} stray bytes at offset {pos}", null);
        var head = new byte[prefix];
        s.Position = pos;
        s.ReadExactly(head);
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(head);
        bool lengthChecked = version >= 2;
        if (lengthChecked && Crc32.HashToUInt32(head.AsSpan(0, 4)) != BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4)))
            return new(null, null, "a record length that fails its checksum");
        if (n == 0 || n > MaxRecord) return new(null, null, $"a record length of {n} bytes");
        long end = pos + prefix + n + 4;
        if (end > length)
            return lengthChecked ? new(null, $"a record cut short at offset {pos} ({length - pos} of {end - pos} bytes)", null)
                : new(null, null, $"a record of {n} bytes that runs past the end of the file");
        var body = new byte[n];
        var crc = new byte[4];
        s.ReadExactly(body);
        s.ReadExactly(crc);
        if (Crc32.HashToUInt32(body) != BinaryPrimitives.ReadUInt32LittleEndian(crc))
            return lengthChecked && end == length ? new(null, $"a last record with a bad checksum at offset {pos}", null)
                : new(null, null, "a record that fails its checksum");
        return new(body, null, null);
    }

    // The bytes from pos on hold no record: all zeros (extended, never written), or (version 1, whose lengths carry no
    // checksum) no offset after pos starts a record whose checksum holds, so nothing acknowledged follows.
    private static bool IsTornTail(Stream s, long pos, long length, int version)
    {
        if (length - pos > MaxRecord + 16L) return false;
        var rest = new byte[length - pos];
        s.Position = pos;
        s.ReadExactly(rest);
        if (!rest.AsSpan().ContainsAnyExcept((byte)0)) return true;
        return version == 1 && NextRecord(rest, 1, version) < 0;
    }

    // The first offset at or after `from` in `data` where a whole record with good checksums starts, or -1.
    private static long NextRecord(ReadOnlySpan<byte> data, long from, int version)
    {
        int prefix = Prefix(version);
        for (long q = from; q + prefix + 5 <= data.Length; q++)
        {
            uint n = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)q..]);
            if (n == 0 || q + prefix + n + 4 > data.Length) continue;
            if (version >= 2 && Crc32.HashToUInt32(data.Slice((int)q, 4)) != BinaryPrimitives.ReadUInt32LittleEndian(data[(int)(q + 4)..])) continue;
            var body = data.Slice((int)(q + prefix), (int)n);
            if (body[0] is not (FaceType or RemoveType)) continue;
            if (Crc32.HashToUInt32(body) == BinaryPrimitives.ReadUInt32LittleEndian(data[(int)(q + prefix + n)..])) return q;
        }
        return -1;
    }

    /// <summary>What <see cref="ReadSalvageable"/> found: the records whose checksums hold, and the damaged stretches skipped.</summary>
    internal sealed record Salvaged(GalleryModelStamp Model, List<Entry> Entries, List<float[]> Codes, List<(long From, long To)> Damaged, int Version);

    /// <summary>
    /// Every record whose checksums hold, in file order, skipping damaged stretches (each resumes at the next offset where a
    /// whole record checks out). The header must be intact: without it the model is unknown.
    /// </summary>
    internal static Salvaged ReadSalvageable(byte[] data, string path)
    {
        using var s = new MemoryStream(data, writable: false);
        int version = ReadMagic(s, path);
        int prefix = Prefix(version);
        var head = ReadFrame(s, 8, data.Length, version);
        if (head.Body is null || head.Body[0] != HeaderType)
            throw new InvalidDataException($"{path}: the gallery header record is damaged; without it the face model is unknown and nothing can be salvaged");
        var hr = new Reader(head.Body, path, 8);
        hr.Byte();
        hr.Int();
        var model = HeaderStamp(hr, version);
        var entries = new List<Entry>();
        var codes = new List<float[]>();
        var damaged = new List<(long, long)>();
        long pos = 8 + prefix + head.Body.Length + 4;
        while (pos < data.Length)
        {
            var frame = ReadFrame(s, pos, data.Length, version);
            Entry? entry = null;
            if (frame.Body is not null)
            {
                try
                {
                    var r = new Reader(frame.Body, path, pos);
                    long end = pos + prefix + frame.Body.Length + 4;
                    entry = r.Byte() switch
                    {
                        FaceType => FaceEntry(r, model, path, pos, end, prefix, frame.Body.Length, version),
                        RemoveType => new Entry(RemoveType, pos, end, Identity: r.Str()),
                        _ => null,
                    };
                }
                catch (InvalidDataException) { entry = null; }
            }
            if (entry is null)
            {
                long next = NextRecord(data, pos + 1, version);
                long to = next < 0 ? data.Length : next;
                damaged.Add((pos, to));
                pos = to;
                continue;
            }
            entries.Add(entry);
            codes.Add(entry.Type == FaceType ? Floats(data.AsSpan((int)entry.CodeOffset, 4 * entry.CodeLength)) : []);
            pos = entry.End;
        }
        return new Salvaged(model, entries, codes, damaged, version);
    }

    private static float[] Floats(ReadOnlySpan<byte> bytes)
    {
        var v = new float[bytes.Length / 4];
        for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
        return v;
    }

    private sealed class Writer(int version) : IDisposable
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
            int prefix = Prefix(version);
            var f = new byte[body.Length + prefix + 4];
            BinaryPrimitives.WriteUInt32LittleEndian(f, (uint)body.Length);
            if (prefix == 8) BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), Crc32.HashToUInt32(f.AsSpan(0, 4)));
            body.CopyTo(f, prefix);
            BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(prefix + body.Length), Crc32.HashToUInt32(body));
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
        public void Skip(int n) => Take(n);
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
        return Floats(bytes);
    }
}
