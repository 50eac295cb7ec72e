namespace Xcos.ML.Gallery;

/// <summary>
/// Opens galleries named by a URI of one scheme (e.g. <c>postgresql://</c>), for <see cref="FaceGalleries"/>. A
/// package that stores galleries elsewhere implements this and registers it with <see cref="FaceGalleries.Register"/>.
/// </summary>
public interface IFaceGalleryProvider
{
    /// <summary>URI schemes this provider opens, lower case, without "://".</summary>
    IReadOnlyList<string> Schemes { get; }

    /// <summary>Opens (or creates, per <paramref name="mode"/>) the gallery at <paramref name="location"/>.</summary>
    /// <param name="location">The URI as the user wrote it.</param>
    /// <param name="model">The face model the caller encodes with; null accepts the stored one (a read-only copy source).</param>
    /// <param name="mode">Read only, read and write, or create when missing (needs <paramref name="model"/>).</param>
    IFaceGallery Open(string location, GalleryModelStamp? model, GalleryOpenMode mode);

    /// <summary>The location as it may be printed or logged: never a password.</summary>
    string Display(string location);
}
