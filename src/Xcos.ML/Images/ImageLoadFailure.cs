namespace Xcos.ML.Images;

/// <summary>
/// The per-face status of a failed <see cref="ImageIO"/> load. <see cref="InvalidDataException"/> is sealed, so the
/// status travels in the exception's <see cref="Exception.Data"/> under <see cref="StatusKey"/>.
/// </summary>
internal static class ImageLoadFailure
{
    /// <summary>Key of the <see cref="FaceStatus"/> in <see cref="Exception.Data"/>.</summary>
    public const string StatusKey = "Xcos.FaceStatus";

    /// <summary>An <see cref="InvalidDataException"/> naming <paramref name="source"/> and carrying <paramref name="status"/>.</summary>
    public static InvalidDataException Create(string source, FaceStatus status, string message, Exception? inner = null)
    {
        var e = new InvalidDataException($"'{source}': {message}", inner);
        e.Data[StatusKey] = status;
        return e;
    }

    /// <summary>
    /// What a failed load means for the face: <see cref="FaceStatus.MissingFile"/> for a missing file or a directory,
    /// the carried status (truncated, too large, undecodable) for a file that was read, otherwise
    /// <see cref="FaceStatus.Undecodable"/>.
    /// </summary>
    public static FaceStatus StatusOf(Exception e) => e switch
    {
        _ when e.Data[StatusKey] is FaceStatus s => s,
        FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException => FaceStatus.MissingFile,
        _ => FaceStatus.Undecodable,
    };
}
