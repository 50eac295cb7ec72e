namespace Xcos.ML.Images;

/// <summary>
/// What became of one face of a pair on its way from a file to an embedding. Every path (CLI, verification core,
/// ML.NET status columns, galleries, reports) reports this one type; its text form (<see cref="FaceStatusText"/>)
/// is what JSON, TSV and ML.NET columns hold.
/// </summary>
public enum FaceStatus
{
    /// <summary>The face was found, aligned and embedded.</summary>
    Ok,
    /// <summary>The row gave no path (empty or null).</summary>
    EmptyPath,
    /// <summary>No file at the path (or the path is a directory).</summary>
    MissingFile,
    /// <summary>The file exists but is not a decodable image.</summary>
    Undecodable,
    /// <summary>The image file ends early (missing PNG IEND / JPEG EOI, or incomplete scanlines).</summary>
    TruncatedImage,
    /// <summary>The image is larger than the decoder's limits allow.</summary>
    ImageTooLarge,
    /// <summary>The detector found no face.</summary>
    NoFace,
    /// <summary>No landmarks were given for a row that needs them.</summary>
    MissingLandmarks,
    /// <summary>The landmarks cannot define an alignment (all equal, collinear, non-finite, wrong count).</summary>
    DegenerateLandmarks,
    /// <summary>The face model failed on this face (the detail says how).</summary>
    ModelError,
}

/// <summary>The snake_case text of a <see cref="FaceStatus"/> and back.</summary>
public static class FaceStatusText
{
    private static readonly Dictionary<FaceStatus, string> Texts = new()
    {
        [FaceStatus.Ok] = "ok",
        [FaceStatus.EmptyPath] = "empty_path",
        [FaceStatus.MissingFile] = "missing_file",
        [FaceStatus.Undecodable] = "undecodable",
        [FaceStatus.TruncatedImage] = "truncated_image",
        [FaceStatus.ImageTooLarge] = "image_too_large",
        [FaceStatus.NoFace] = "no_face",
        [FaceStatus.MissingLandmarks] = "missing_landmarks",
        [FaceStatus.DegenerateLandmarks] = "degenerate_landmarks",
        [FaceStatus.ModelError] = "model_error",
    };

    private static readonly Dictionary<string, FaceStatus> Values = Texts.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    /// <summary>The text form, e.g. "no_face".</summary>
    public static string ToText(this FaceStatus status) =>
        Texts.TryGetValue(status, out var t) ? t : throw new ArgumentOutOfRangeException(nameof(status), status, "unknown face status");

    /// <summary>Parses a text form (the part before any ": detail").</summary>
    /// <exception cref="FormatException">Not a status text.</exception>
    public static FaceStatus Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        var code = (colon < 0 ? text : text[..colon]).Trim();
        return Values.TryGetValue(code, out var s) ? s : throw new FormatException($"'{text}' is not a face status (one of {string.Join(", ", Values.Keys)})");
    }

    /// <summary>The status with a detail, as status columns hold it: "no_face" or "missing_file: /x/y.jpg".</summary>
    public static string WithDetail(this FaceStatus status, string? detail) =>
        string.IsNullOrEmpty(detail) ? status.ToText() : status.ToText() + ": " + detail.ReplaceLineEndings(" ");
}
