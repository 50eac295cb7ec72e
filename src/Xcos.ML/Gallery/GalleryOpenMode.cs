namespace Xcos.ML.Gallery;

/// <summary>How <see cref="FaceGalleries.Open"/> opens a gallery.</summary>
public enum GalleryOpenMode
{
    /// <summary>Searches only; the gallery must exist.</summary>
    ReadOnly,
    /// <summary>Enrols and removes; the gallery must exist.</summary>
    ReadWrite,
    /// <summary>Enrols and removes; a missing gallery is created for the given model.</summary>
    OpenOrCreate,
}
