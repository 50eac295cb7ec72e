namespace Xcos.ML.FaceModels;

/// <summary>All faces found in an image and the one chosen for verification.</summary>
/// <param name="Status">Ok or NoFace.</param>
/// <param name="Faces">Every face after non-maximum suppression, by descending score.</param>
/// <param name="Primary">The largest face (ties: the one nearest the image centre); null when none.</param>
/// <param name="ImageWidth">Width of the searched image.</param>
/// <param name="ImageHeight">Height of the searched image.</param>
public sealed record FaceDetectionResult(FaceDetectionStatus Status, IReadOnlyList<DetectedFace> Faces, DetectedFace? Primary, int ImageWidth, int ImageHeight)
{
    /// <summary>Number of faces found.</summary>
    public int FaceCount => Faces.Count;
}
