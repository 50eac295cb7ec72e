using System.Text.Json.Serialization;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;

namespace Xcos.ML.Verification;

/// <summary>What became of one face of a pair.</summary>
/// <param name="Path">The photo's path or name as the caller gave it.</param>
/// <param name="Status">Ok, or why the face could not be used.</param>
/// <param name="Detail">What went wrong in words (the file, the size, the exception's message); null when ok.</param>
/// <param name="FaceCount">Faces the detector found; 1 for an already-aligned face; 0 when none was searched or found.</param>
/// <param name="Box">Box of the face used (the largest when several were found), in photo pixels; null without detection.</param>
/// <param name="DetectionScore">The detector's confidence in that face; null without detection.</param>
/// <param name="Landmarks">Its five landmarks as [x, y] in photo pixels; null without detection.</param>
/// <param name="Aligned">The aligned face the model saw (for figures); null when it failed or was not kept.</param>
public sealed record FaceReport(string Path, FaceStatus Status, string? Detail, int FaceCount, FaceBox? Box, float? DetectionScore,
    double[][]? Landmarks, [property: JsonIgnore] RgbImage? Aligned)
{
    /// <summary>Whether the face was found, aligned and embedded.</summary>
    public bool IsOk => Status == FaceStatus.Ok;

    /// <summary>"3 faces found, used the largest" when the detector found more than one; else null.</summary>
    public string? Note => FaceCount > 1 && IsOk ? $"{FaceCount} faces found, used the largest" : null;

    /// <summary>The status with its detail, e.g. "missing_file: image file 'x.png' not found".</summary>
    public string StatusText => Status.WithDetail(Detail);

    /// <summary>A failed face: no detection data, no aligned face.</summary>
    public static FaceReport Failed(string path, FaceStatus status, string? detail, int faceCount = 0) =>
        new(path, status, detail, faceCount, null, null, null, null);
}
