using Xcos.ML.Heads;
using Xcos.ML.Images;

namespace Xcos.ML.Verification;

/// <summary>
/// Verifies pairs of faces and explains the verdict: one interface over every model (ONNX face models with a
/// weight-derived or learned xCos, TorchSharp xCos checkpoints). A face that cannot be used (missing file, not an image,
/// no face, degenerate landmarks, model failure) gets a status in the result; no method throws for a bad face.
/// </summary>
public interface IFacePairVerifier : IDisposable
{
    /// <summary>Threshold on the deciding score; null: results are Undecided.</summary>
    double? Threshold { get; }

    /// <summary>Which xCos explains this verifier's results: weight-derived, learned head, or a checkpoint's own.</summary>
    XcosVariant Variant { get; }

    /// <summary>"model", "target" or "grid": which cosine results carry (see <see cref="FacePairVerification.CosineSource"/>).</summary>
    string CosineSource { get; }

    /// <summary>"cosine" or "xcos": which score the threshold applies to.</summary>
    string DecidedBy { get; }

    /// <summary>Side of the aligned square faces the model takes (112).</summary>
    int FaceSize { get; }

    /// <summary>True when inputs are taken as already-aligned faces (no detection).</summary>
    bool AlignedInput { get; }

    /// <summary>Verifies two image files (aligned faces kept in the result).</summary>
    FacePairVerification Verify(string path1, string path2);

    /// <summary>Verifies two decoded images (photos, or aligned faces when <see cref="AlignedInput"/>); the names label the faces.</summary>
    FacePairVerification Verify(RgbImage image1, RgbImage image2, string name1 = "image1", string name2 = "image2");

    /// <summary>Verifies two faces already aligned to <see cref="FaceSize"/> x <see cref="FaceSize"/>, skipping detection.</summary>
    FacePairVerification VerifyAligned(RgbImage face1, RgbImage face2, string name1 = "face1", string name2 = "face2");

    /// <summary>
    /// Verifies many pairs of image ids. Within the call each distinct id is loaded, aligned and embedded once, and
    /// forgotten after its last pair, so memory stays bounded on long pair lists.
    /// </summary>
    /// <param name="pairs">Pairs of ids (paths, or whatever <paramref name="load"/> understands).</param>
    /// <param name="load">Decodes an id; null reads it as a file path. Its exceptions become face statuses.</param>
    /// <param name="keepFaces">Keep the aligned faces in the results (for figures; costs memory on large sets).</param>
    /// <param name="progress">Receives the number of pairs done.</param>
    IReadOnlyList<FacePairVerification> VerifyMany(IReadOnlyList<(string Id1, string Id2)> pairs, Func<string, RgbImage>? load = null,
        bool keepFaces = false, IProgress<int>? progress = null);

    /// <summary>Finds (or, for aligned input, checks) the face of one image and aligns it, without embedding it.</summary>
    FaceReport Analyse(RgbImage image, string name);
}
