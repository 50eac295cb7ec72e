using Xcos.ML.Images;

namespace Xcos.ML.Gallery;

/// <summary>
/// A face model as a gallery needs it: a photo to an embedding and a face code, and the pair head on two face codes.
/// Implemented for ONNX face models (<see cref="OnnxFaceEncoder"/>) and for TorchSharp checkpoints (Xcos.ML.Torch).
/// </summary>
public interface IFaceEncoder : IDisposable
{
    /// <summary>The model's stamp (name, hash, sizes) that galleries record.</summary>
    GalleryModelStamp Model { get; }

    /// <summary>The model's own cosine threshold of "same person" (the open-set default), or null when it has none.</summary>
    double? Threshold { get; }

    /// <summary>Side of the square aligned face the model takes.</summary>
    int FaceSize { get; }

    /// <summary>Encodes the primary face of a photo (detect, align, embed); <paramref name="aligned"/> skips detection for aligned faces.</summary>
    FaceEncoding Encode(RgbImage photo, bool aligned = false);

    /// <summary>
    /// Encodes several photos, one result per photo in order. A model that takes batches embeds their faces together
    /// (<see cref="OnnxFaceEncoder"/>: up to 32 per ONNX Runtime call); by default, one by one through <see cref="Encode"/>.
    /// </summary>
    IReadOnlyList<FaceEncoding> EncodeMany(IReadOnlyList<RgbImage> photos, bool aligned = false) => photos.Select(p => Encode(p, aligned)).ToList();

    /// <summary>The pair head on a probe's code and one gallery face's code; needs no backbone pass.</summary>
    PairExplanation Compare(float[] probeCode, float[] galleryCode);

    /// <summary>The pair head on a probe's code and each of a shortlist's codes (in order); an encoder whose head runs batched overrides it.</summary>
    IReadOnlyList<PairExplanation> CompareMany(float[] probeCode, IReadOnlyList<float[]> galleryCodes) =>
        galleryCodes.Select(c => Compare(probeCode, c)).ToArray();
}
