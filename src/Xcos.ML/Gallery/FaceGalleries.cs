namespace Xcos.ML.Gallery;

/// <summary>
/// The one place that turns the gallery a user names (a command-line value, a server setting) into an
/// <see cref="IFaceGallery"/>. Today that text is a gallery file path (<see cref="FaceGallery"/>); another backend (a
/// vector database URI) is added here, and every caller (CLI, server) gets it without changes.
/// </summary>
public static class FaceGalleries
{
    /// <summary>
    /// Opens the gallery <paramref name="gallery"/> names for <paramref name="model"/>; a writable file gallery that does not
    /// exist yet is created (a read-only one must exist).
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty.</exception>
    /// <exception cref="FileNotFoundException">A read-only gallery file that does not exist.</exception>
    /// <exception cref="InvalidDataException">Not a gallery, corrupt, or built with another model.</exception>
    /// <exception cref="IOException">Another process has it open for writing.</exception>
    public static IFaceGallery Open(string gallery, GalleryModelStamp model, FaceGalleryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (string.IsNullOrWhiteSpace(gallery)) throw new ArgumentException("no gallery given (a gallery file path)", nameof(gallery));
        options ??= new FaceGalleryOptions();
        return options.ReadOnly ? FaceGallery.Open(gallery, model, options) : FaceGallery.OpenOrCreate(gallery, model, options);
    }
}
