namespace Xcos.ML.FaceModels;

/// <summary>An axis-aligned face box in source pixels (corners).</summary>
/// <param name="X1">Left.</param>
/// <param name="Y1">Top.</param>
/// <param name="X2">Right.</param>
/// <param name="Y2">Bottom.</param>
public readonly record struct FaceBox(float X1, float Y1, float X2, float Y2)
{
    /// <summary>Width (X2 - X1).</summary>
    public float Width => X2 - X1;

    /// <summary>Height (Y2 - Y1).</summary>
    public float Height => Y2 - Y1;

    /// <summary>Area, 0 for an empty box.</summary>
    public float Area => Math.Max(0, Width) * Math.Max(0, Height);

    /// <summary>Intersection over union with <paramref name="other"/>.</summary>
    public float IoU(FaceBox other)
    {
        float w = Math.Min(X2, other.X2) - Math.Max(X1, other.X1);
        float h = Math.Min(Y2, other.Y2) - Math.Max(Y1, other.Y1);
        if (w <= 0 || h <= 0) return 0;
        float inter = w * h;
        return inter / (Area + other.Area - inter);
    }
}

/// <summary>One face found by <see cref="FaceDetector"/>, in the source image's pixel coordinates.</summary>
/// <param name="Box">Square face box in source pixels (the detector's box made square on its height, clipped to the image).</param>
/// <param name="Score">Face confidence (softmax probability of the face class), 0..1.</param>
/// <param name="Landmarks5">Left eye, right eye, nose tip, left and right mouth corner, source pixels (image left/right).</param>
/// <param name="Landmarks68">The 68 iBUG points the five come from, flat x,y (136 values), source pixels.</param>
public sealed record DetectedFace(FaceBox Box, float Score, (double X, double Y)[] Landmarks5, float[] Landmarks68);

/// <summary>Outcome of a detection.</summary>
public enum FaceDetectionStatus
{
    /// <summary>At least one face was found; <see cref="FaceDetectionResult.Primary"/> is set.</summary>
    Ok,
    /// <summary>No box scored above the confidence threshold.</summary>
    NoFace,
}

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
