namespace Xcos.ML.Images;

/// <summary>Turns a failure to read an image into a <see cref="FaceStatus"/> with the reader's message as detail.</summary>
public static class FaceImageErrors
{
    /// <summary>
    /// The status of an exception thrown while reading or decoding an image, or null when the exception is not about the
    /// input (a bug, cancellation, out of memory), which callers let through.
    /// </summary>
    public static FaceStatus? Classify(Exception e) => e switch
    {
        // ImageIO says what it refused (truncated, too large, undecodable) in the exception it throws
        _ when e.Data[ImageLoadFailure.StatusKey] is FaceStatus carried => carried,
        FileNotFoundException or DirectoryNotFoundException or KeyNotFoundException or UnauthorizedAccessException => FaceStatus.MissingFile,
        InvalidDataException or EndOfStreamException => FaceStatus.Undecodable,
        IOException => FaceStatus.MissingFile,
        _ => null,
    };

    /// <summary>Loads an image, turning input failures into a status and detail instead of an exception.</summary>
    public static (RgbImage? Image, FaceStatus Status, string? Detail) TryLoad(string id, Func<string, RgbImage> load)
    {
        ArgumentNullException.ThrowIfNull(load);
        if (string.IsNullOrWhiteSpace(id)) return (null, FaceStatus.EmptyPath, "no image path given");
        try
        {
            return (load(id), FaceStatus.Ok, null);
        }
        catch (Exception e) when (Classify(e) is not null)
        {
            return (null, Classify(e)!.Value, e.Message);
        }
    }
}
