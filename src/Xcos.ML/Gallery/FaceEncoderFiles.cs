using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.Gallery;

/// <summary>Photo files through an <see cref="IFaceEncoder"/>, with every failure turned into a <see cref="FaceStatus"/>.</summary>
public static class FaceEncoderFiles
{
    /// <summary>Loads and encodes one photo file; a missing, undecodable or oversized file gives a status, not an exception.</summary>
    public static FaceEncoding EncodeFile(this IFaceEncoder encoder, string? path, bool aligned = false, ImageLoadOptions? load = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        if (string.IsNullOrWhiteSpace(path)) return FaceEncoding.Failed(FaceStatus.EmptyPath, null);
        if (!File.Exists(path)) return FaceEncoding.Failed(FaceStatus.MissingFile, path);
        RgbImage photo;
        try { photo = ImageIO.Load(path, load); }
        catch (InvalidDataException e)
        {
            // ImageIO says "over the budget" for images past ImageLoadOptions.MaxPixels
            var status = e.Message.Contains("over the budget", StringComparison.Ordinal) ? FaceStatus.ImageTooLarge : FaceStatus.Undecodable;
            return FaceEncoding.Failed(status, e.Message);
        }
        if (aligned && (photo.Width != encoder.FaceSize || photo.Height != encoder.FaceSize))
            return FaceEncoding.Failed(FaceStatus.ModelError, $"{path}: {photo.Width}x{photo.Height}, expected an aligned {encoder.FaceSize}x{encoder.FaceSize} face");
        return encoder.Encode(photo, aligned);
    }
}
