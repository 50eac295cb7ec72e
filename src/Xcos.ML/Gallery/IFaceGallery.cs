namespace Xcos.ML.Gallery;

/// <summary>
/// Where enrolled faces live and how they are searched. The file-backed <see cref="FaceGallery"/> is the embedded
/// default; a gallery past one machine is another implementation (a vector database holds the embeddings and returns
/// face ids, the face codes come back with them), while re-ranking and explanation stay in <see cref="FaceIdentifier"/>.
/// </summary>
public interface IFaceGallery : IDisposable
{
    /// <summary>The face model every stored embedding and code comes from.</summary>
    GalleryModelStamp Model { get; }

    /// <summary>Faces enrolled now; faces of removed identities no longer count.</summary>
    int FaceCount { get; }

    /// <summary>Enrolled identities, sorted (ordinal).</summary>
    IReadOnlyList<string> Identities { get; }

    /// <summary>The faces of one identity (empty when it is not enrolled).</summary>
    IReadOnlyList<GalleryFace> FacesOf(string identity);

    /// <summary>
    /// Stores one face under <paramref name="identity"/>; durable when this returns. The same photo of the same identity
    /// enrolled again stores nothing new and returns the stored face.
    /// </summary>
    GalleryFace Enroll(string identity, float[] embedding, float[] code, string sourceFile);

    /// <summary>
    /// <see cref="Enroll(string, float[], float[], string)"/> with the SHA-256 of the photo file's bytes
    /// (<c>"sha256:&lt;hex&gt;"</c>), kept so that a rerun can skip the photo (<see cref="FindByContent"/>). A gallery
    /// that keeps no content hashes stores the face without it.
    /// </summary>
    GalleryFace Enroll(string identity, float[] embedding, float[] code, string sourceFile, string? contentHash) => Enroll(identity, embedding, code, sourceFile);

    /// <summary>A face of <paramref name="identity"/> enrolled from a photo with this content hash, or null (always null for a gallery that keeps no hashes).</summary>
    GalleryFace? FindByContent(string identity, string contentHash) => null;

    /// <summary>Removes every face of <paramref name="identity"/>; returns how many there were. Durable when this returns.</summary>
    int RemoveIdentity(string identity);

    /// <summary>The <paramref name="top"/> identities nearest a probe embedding (each by its best face), best first.</summary>
    IReadOnlyList<IdentityCandidate> Search(ReadOnlySpan<float> embedding, int top);
}
