using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.Gallery;

/// <summary>Photo files through an <see cref="IFaceEncoder"/>, with every failure turned into a <see cref="FaceStatus"/>.</summary>
public static class FaceEncoderFiles
{
    /// <summary>Loads and encodes one photo file; a missing, undecodable or oversized file gives a status, not an exception.</summary>
    public static FaceEncoding EncodeFile(this IFaceEncoder encoder, string? path, bool aligned = false, ImageLoadOptions? load = null) =>
        EncodeFiles(encoder, [path], aligned, load)[0];

    /// <summary>
    /// Loads and encodes photo files, one result per path in order, the readable ones through
    /// <see cref="IFaceEncoder.EncodeMany"/> (one batch); each failure gives that file a status, as <see cref="EncodeFile"/> does.
    /// </summary>
    public static IReadOnlyList<FaceEncoding> EncodeFiles(this IFaceEncoder encoder, IReadOnlyList<string?> paths, bool aligned = false, ImageLoadOptions? load = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(paths);
        var result = new FaceEncoding[paths.Count];
        var loaded = new List<(int Index, RgbImage Photo)>();
        for (int i = 0; i < paths.Count; i++)
        {
            var (photo, failure) = Read(encoder, paths[i], aligned, load);
            if (failure is not null) result[i] = failure;
            else loaded.Add((i, photo!));
        }
        var encoded = encoder.EncodeMany(loaded.Select(l => l.Photo).ToList(), aligned);
        for (int k = 0; k < loaded.Count; k++) result[loaded[k].Index] = encoded[k];
        return result;
    }

    private static (RgbImage? Photo, FaceEncoding? Failure) Read(IFaceEncoder encoder, string? path, bool aligned, ImageLoadOptions? load)
    {
        if (string.IsNullOrWhiteSpace(path)) return (null, FaceEncoding.Failed(FaceStatus.EmptyPath, null));
        if (!File.Exists(path)) return (null, FaceEncoding.Failed(FaceStatus.MissingFile, path));
        RgbImage photo;
        try { photo = ImageIO.Load(path, load); }
        catch (InvalidDataException e)
        {
            // ImageIO says "over the budget" for images past ImageLoadOptions.MaxPixels
            var status = e.Message.Contains("over the budget", StringComparison.Ordinal) ? FaceStatus.ImageTooLarge : FaceStatus.Undecodable;
            return (null, FaceEncoding.Failed(status, e.Message));
        }
        if (aligned && (photo.Width != encoder.FaceSize || photo.Height != encoder.FaceSize))
            return (null, FaceEncoding.Failed(FaceStatus.ModelError, $"{path}: {photo.Width}x{photo.Height}, expected an aligned {encoder.FaceSize}x{encoder.FaceSize} face"));
        return (photo, null);
    }
}
