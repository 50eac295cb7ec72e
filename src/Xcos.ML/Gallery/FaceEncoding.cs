using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.Gallery;

/// <summary>What an <see cref="IFaceEncoder"/> made of one photo.</summary>
/// <param name="Status">Ok, or why there is no face (no_face, undecodable, ...).</param>
/// <param name="Detail">Details of a failure (the file, the decoder's message), or null.</param>
/// <param name="Embedding">The model's embedding (not normalised), or null when <paramref name="Status"/> is not Ok.</param>
/// <param name="Code">The face code the pair head reads (re-ranking needs no backbone pass with it), or null.</param>
/// <param name="Face">The aligned face the model saw (for figures), or null.</param>
/// <param name="FaceCount">Faces the detector found (1 for aligned input).</param>
public sealed record FaceEncoding(FaceStatus Status, string? Detail, float[]? Embedding, float[]? Code, RgbImage? Face, int FaceCount)
{
    /// <summary>An encoding that found no usable face: <paramref name="status"/> says why, with no embedding or code.</summary>
    public static FaceEncoding Failed(FaceStatus status, string? detail, int faceCount = 0) => new(status, detail, null, null, null, faceCount);

    /// <summary>
    /// The face an encoder embeds: <paramref name="photo"/> itself when <paramref name="aligned"/>, else the primary face
    /// the detector finds (null and a <see cref="FaceStatus.NoFace"/> failure when none), with the number of faces found.
    /// </summary>
    /// <exception cref="InvalidOperationException">A photo to detect in, but no detector (the message is <paramref name="noDetector"/>).</exception>
    public static (RgbImage? Face, int Count, FaceEncoding? Failure) Locate(RgbImage photo, bool aligned, FaceDetector? detector, string noDetector)
    {
        ArgumentNullException.ThrowIfNull(photo);
        if (aligned) return (photo, 1, null);
        if (detector is null) throw new InvalidOperationException(noDetector);
        var (det, face) = detector.DetectAndAlign(photo);
        return face is null ? (null, det.FaceCount, Failed(FaceStatus.NoFace, null, det.FaceCount)) : (face, det.FaceCount, null);
    }

    /// <summary>The status with its detail, as reports print it ("no_face", "missing_file: /x.jpg").</summary>
    public string StatusText => Status.WithDetail(Detail);
}
