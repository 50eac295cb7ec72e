namespace Xcos.ML.Alignment;

/// <summary>The standard five-point ArcFace / InsightFace alignment template.</summary>
internal static class ArcFaceTemplate
{
    /// <summary>Side of the aligned face in pixels.</summary>
    public const int Size = 112;

    // InsightFace's 112x112 reference points, stored as float32 there; these are those float32 values.
    private static readonly (double X, double Y)[] Points =
    [
        (38.29460144042969, 51.6963005065918),   // left eye (image left)
        (73.53179931640625, 51.501399993896484), // right eye
        (56.02519989013672, 71.73660278320312),  // nose tip
        (41.54930114746094, 92.3655014038086),   // left mouth corner
        (70.72990417480469, 92.2041015625),      // right mouth corner
    ];

    /// <summary>Left eye, right eye, nose tip, left and right mouth corner of a 112x112 aligned face, (x, y) in pixels.</summary>
    public static ReadOnlySpan<(double X, double Y)> Points112 => Points;
}
