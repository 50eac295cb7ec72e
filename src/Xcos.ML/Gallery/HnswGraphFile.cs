using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Xcos.ML.Data;

namespace Xcos.ML.Gallery;

/// <summary>
/// The saved HNSW graph of a gallery, next to it as "&lt;gallery&gt;.hnsw", so opening a large gallery loads the graph
/// instead of rebuilding it. Little-endian:
/// <code>
/// magic "XCOSHNSW" (8 bytes), int32 version (1),
/// int32 dimension, int32 connectivity, int32 expansion add, int32 quantization,
/// int64 faces N, byte[32] content digest (<see cref="GalleryContentDigest"/> of the gallery's first N live faces),
/// int64 payload length L, byte[32] SHA-256 of the payload, uint32 CRC-32 of the 108 header bytes before it,
/// payload: L bytes, USearch's own serialisation of the graph
/// </code>
/// The file is only a cache: it is used when its header, both digests and its size all check out and the gallery still
/// begins with the same N faces (faces enrolled after it was saved are then added to the loaded graph); anything else
/// (another gallery's graph, a removal since, other graph settings, a cut or corrupt file) reads as stale and the
/// caller rebuilds. USearch trusts the bytes it loads, so the payload's SHA-256 and then its structure (node count,
/// levels, neighbour slots in range; <see cref="HnswGraphStructure"/>) are checked before it sees them: a digest proves
/// integrity, not origin.
/// Written with ordinary writes (space reserved first) to a temporary file next to it, flushed, then renamed over the
/// old one; a full disk is an <see cref="IOException"/> and leaves no temporary file.
/// </summary>
internal static class HnswGraphFile
{
    private static readonly byte[] Magic = "XCOSHNSW"u8.ToArray();
    private const int Version = 1;
    private const int HeaderLength = 112;

    /// <summary>The graph file of a gallery.</summary>
    public static string PathFor(string galleryPath) => galleryPath + ".hnsw";

    /// <summary>
    /// Writes <paramref name="index"/>, which holds exactly the faces <paramref name="digest"/> covers, crash-safely to
    /// <paramref name="path"/>; returns the payload's SHA-256, which ties a recall calibration to this graph.
    /// </summary>
    public static byte[] Save(string path, HnswVectorIndex index, GalleryContentDigest digest)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(digest);
        if (index.Count != digest.Faces) throw new ArgumentException($"the graph holds {index.Count} faces, the digest covers {digest.Faces}");
        long length = index.SerializedLength;
        // ordinary writes from a native buffer, not a memory map: a full disk is then an IOException, where writing
        // through a map of a sparse file dies with SIGBUS; the space is reserved first so a full disk fails early
        var buffer = Marshal.AllocHGlobal(checked((nint)length));
        try
        {
            index.SaveTo(buffer, length);
            var chunk = new byte[(int)Math.Min(length, 1 << 20)];
            byte[] payloadHash;
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                for (long at = 0; at < length; at += chunk.Length)
                {
                    int n = (int)Math.Min(chunk.Length, length - at);
                    Marshal.Copy(buffer + (nint)at, chunk, 0, n);
                    sha.AppendData(chunk, 0, n);
                }
                payloadHash = sha.GetHashAndReset();
            }
            var header = HeaderBytes(index, digest, length, payloadHash);
            AtomicFile.Write(path, f =>
            {
                f.Write(header);
                for (long at = 0; at < length; at += chunk.Length)
                {
                    int n = (int)Math.Min(chunk.Length, length - at);
                    Marshal.Copy(buffer + (nint)at, chunk, 0, n);
                    f.Write(chunk, 0, n);
                }
            }, HeaderLength + length);
            return payloadHash;
        }
        finally { Marshal.FreeHGlobal(buffer); }
    }

    private static byte[] HeaderBytes(HnswVectorIndex index, GalleryContentDigest digest, long length, byte[] payloadHash)
    {
        var h = new byte[HeaderLength];
        var s = h.AsSpan();
        Magic.CopyTo(s);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(s[12..], index.Dimension);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], index.Settings.Connectivity);
        BinaryPrimitives.WriteInt32LittleEndian(s[20..], index.Settings.ExpansionAdd);
        BinaryPrimitives.WriteInt32LittleEndian(s[24..], (int)index.Settings.Quantization);
        BinaryPrimitives.WriteInt64LittleEndian(s[28..], digest.Faces);
        digest.Hash.CopyTo(s[36..]);
        BinaryPrimitives.WriteInt64LittleEndian(s[68..], length);
        payloadHash.CopyTo(s[76..]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[108..], Crc32.HashToUInt32(s[..108]));
        return h;
    }

    /// <summary>What the header of a graph file says (after its own checksum passed).</summary>
    internal sealed record Header(int Dimension, int Connectivity, int ExpansionAdd, HnswQuantization Quantization, long Faces, byte[] ContentHash, long PayloadLength, byte[] PayloadHash);

    /// <summary>Reads and checks a header; null with <paramref name="why"/> when the file is not a usable graph file.</summary>
    internal static Header? ReadHeader(string path, out string why)
    {
        why = "";
        if (!File.Exists(path)) { why = "no saved graph"; return null; }
        // a FIFO or a device would block the open or the read forever: only a regular file can be a saved graph
        if (FileKinds.Of(path) != FileKind.Regular) { why = $"{path}: not a regular file"; return null; }
        var h = new byte[HeaderLength];
        long fileLength;
        using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            fileLength = f.Length;
            if (f.ReadAtLeast(h, HeaderLength, throwOnEndOfStream: false) < HeaderLength) { why = $"{path}: shorter than a graph header"; return null; }
        }
        var s = h.AsSpan();
        if (!s[..8].SequenceEqual(Magic)) { why = $"{path}: not a saved graph (magic)"; return null; }
        if (Crc32.HashToUInt32(s[..108]) != BinaryPrimitives.ReadUInt32LittleEndian(s[108..])) { why = $"{path}: header checksum fails"; return null; }
        int version = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
        if (version != Version) { why = $"{path}: graph file version {version}, this build reads {Version}"; return null; }
        var header = new Header(BinaryPrimitives.ReadInt32LittleEndian(s[12..]), BinaryPrimitives.ReadInt32LittleEndian(s[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(s[20..]), (HnswQuantization)BinaryPrimitives.ReadInt32LittleEndian(s[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(s[28..]), s[36..68].ToArray(), BinaryPrimitives.ReadInt64LittleEndian(s[68..]), s[76..108].ToArray());
        if (header.PayloadLength <= 0 || fileLength != HeaderLength + header.PayloadLength)
        {
            why = $"{path}: {fileLength} bytes, the header promises {HeaderLength + header.PayloadLength}";
            return null;
        }
        return header;
    }

    /// <summary>
    /// Loads the graph when its header (already read, its content digest already compared by the caller) matches
    /// <paramref name="dimension"/> and <paramref name="settings"/> and its payload checks out, both its checksum and its
    /// structure (<see cref="HnswGraphStructure"/>: the digest proves integrity, not origin, and a crafted graph with
    /// recomputed checksums must never reach native code), holding exactly the faces <paramref name="keys"/>; otherwise
    /// null with the reason in <paramref name="why"/>.
    /// </summary>
    internal static HnswVectorIndex? TryLoad(string path, Header header, int dimension, HnswSettings settings, IReadOnlyCollection<long> keys, out string why)
    {
        why = "";
        if (header.Dimension != dimension || header.Connectivity != settings.Connectivity || header.ExpansionAdd != settings.ExpansionAdd || header.Quantization != settings.Quantization)
        {
            why = $"{path}: saved with {header.Dimension}-d, M={header.Connectivity}, ef_add={header.ExpansionAdd}, {header.Quantization}; " +
                  $"the gallery asks for {dimension}-d, M={settings.Connectivity}, ef_add={settings.ExpansionAdd}, {settings.Quantization}";
            return null;
        }
        using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using (var payload = map.CreateViewStream(HeaderLength, header.PayloadLength, MemoryMappedFileAccess.Read))
        {
            if (!SHA256.HashData(payload).AsSpan().SequenceEqual(header.PayloadHash)) { why = $"{path}: the graph's checksum fails (corrupt)"; return null; }
        }
        using var view = map.CreateViewAccessor(0, HeaderLength + header.PayloadLength, MemoryMappedFileAccess.Read);
        var handle = view.SafeMemoryMappedViewHandle;
        // the structure is read from the very view USearch then loads
        using (var payload = new UnmanagedMemoryStream(handle, view.PointerOffset + HeaderLength, header.PayloadLength))
        {
            if (HnswGraphStructure.Check(payload, header.PayloadLength, dimension, settings, keys) is { } problem)
            {
                why = $"{path}: not a sound graph ({problem})";
                return null;
            }
        }
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var index = HnswVectorIndex.LoadFrom(handle.DangerousGetHandle() + (nint)view.PointerOffset + HeaderLength, header.PayloadLength, dimension, settings);
            if (index.Count != header.Faces)
            {
                index.Dispose();
                why = $"{path}: the graph holds {index.Count} faces, its header says {header.Faces}";
                return null;
            }
            return index;
        }
        finally { if (added) handle.DangerousRelease(); }
    }
}
