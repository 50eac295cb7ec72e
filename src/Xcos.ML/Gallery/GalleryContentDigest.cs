using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Xcos.ML.Gallery;

/// <summary>
/// SHA-256 over a gallery's live faces in face-id order (int64 id, int32 length, float32 embedding values, little-endian):
/// what ties a saved graph to the faces it was built from. Two galleries agree on it only if they hold the same
/// faces under the same ids with bit-identical embeddings.
/// </summary>
/// <param name="Faces">Faces covered.</param>
/// <param name="Hash">The 32-byte digest.</param>
internal sealed record GalleryContentDigest(long Faces, byte[] Hash)
{
    /// <summary>Incremental digest: append faces in id order, read the digest of the prefix so far at any point.</summary>
    public sealed class Builder : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] _prefix = new byte[12];

        /// <summary>Faces appended.</summary>
        public long Faces { get; private set; }

        /// <summary>Appends one face.</summary>
        public void Append(long id, ReadOnlySpan<float> embedding)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_prefix, id);
            BinaryPrimitives.WriteInt32LittleEndian(_prefix.AsSpan(8), embedding.Length);
            _hash.AppendData(_prefix);
            if (BitConverter.IsLittleEndian) _hash.AppendData(MemoryMarshal.AsBytes(embedding));
            else foreach (var v in embedding) { var b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); _hash.AppendData(b); }
            Faces++;
        }

        /// <summary>The digest of the faces appended so far (appending may continue).</summary>
        public GalleryContentDigest Current() => new(Faces, _hash.GetCurrentHash());

        /// <inheritdoc/>
        public void Dispose() => _hash.Dispose();
    }
}
