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
    /// <summary>A failed encoding.</summary>
    public static FaceEncoding Failed(FaceStatus status, string? detail, int faceCount = 0) => new(status, detail, null, null, null, faceCount);

    /// <summary>The status with its detail, as reports print it ("no_face", "missing_file: /x.jpg").</summary>
    public string StatusText => Status.WithDetail(Detail);
}
