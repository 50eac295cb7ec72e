using Xcos.ML.Images;

namespace Xcos.ML.Alignment;

/// <summary>An aligned face and the source-to-face matrix that produced it.</summary>
/// <param name="Face">The aligned face (112x112 for the ArcFace template).</param>
/// <param name="Matrix">Maps source pixel coordinates to face coordinates.</param>
public sealed record AlignedFace(RgbImage Face, Affine2x3 Matrix);

/// <summary>Five-point similarity alignment onto the ArcFace 112x112 template (InsightFace's <c>norm_crop</c>).</summary>
public static class FaceAligner
{
    /// <summary>
    /// Aligns the face whose five landmarks (left eye, right eye, nose tip, left and right mouth corner, source pixels)
    /// are given: least-squares similarity onto <see cref="ArcFaceTemplate.Points112"/>, then a bilinear warp.
    /// 68 points are accepted too and reduced with <see cref="Landmarks.FivePointsFromEyeCorners"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Not 5 or 68 points, a non-finite coordinate, or a degenerate point set.</exception>
    public static AlignedFace Align(RgbImage image, ReadOnlySpan<(double X, double Y)> landmarks)
    {
        ArgumentNullException.ThrowIfNull(image);
        var m = EstimateMatrix(landmarks);
        // an aligned 112x112 face (its landmarks are the template's): the warp would be the identity, pixel for pixel
        if (image.Width == ArcFaceTemplate.Size && image.Height == ArcFaceTemplate.Size && IsIdentity(m))
            return new AlignedFace(new RgbImage(image.Width, image.Height, (byte[])image.Pixels.Clone()), m);
        return new AlignedFace(AffineWarp.Warp(image, m, ArcFaceTemplate.Size, ArcFaceTemplate.Size), m);
    }

    private static bool IsIdentity(Affine2x3 m) =>
        Math.Abs(m.M00 - 1) < 1e-9 && Math.Abs(m.M11 - 1) < 1e-9 && Math.Abs(m.M01) < 1e-9 && Math.Abs(m.M10) < 1e-9 && Math.Abs(m.M02) < 1e-9 && Math.Abs(m.M12) < 1e-9;

    /// <summary>Aligns from a flat x,y vector of 10 or 136 values (see <see cref="Landmarks.FromFlat"/>).</summary>
    public static AlignedFace Align(RgbImage image, ReadOnlySpan<float> landmarksXY) => Align(image, Landmarks.FromFlat(landmarksXY));

    /// <summary>The source-to-template similarity for five (or 68) landmarks, with the checks of <see cref="Align(RgbImage, ReadOnlySpan{ValueTuple{double, double}})"/>.</summary>
    public static Affine2x3 EstimateMatrix(ReadOnlySpan<(double X, double Y)> landmarks)
    {
        ReadOnlySpan<(double X, double Y)> five = landmarks.Length switch
        {
            5 => landmarks,
            68 => Landmarks.FivePointsFromEyeCorners(landmarks),
            _ => throw new ArgumentException($"face alignment needs 5 or 68 landmarks, got {landmarks.Length}"),
        };
        for (int i = 0; i < five.Length; i++)
            if (!double.IsFinite(five[i].X) || !double.IsFinite(five[i].Y))
                throw new ArgumentException($"landmark {i} is not finite ({five[i].X}, {five[i].Y})");
        // Eyes on top of each other or a collapsed face give a near-singular warp: refuse it rather than smear pixels.
        double eyeDist = Math.Sqrt(Math.Pow(five[1].X - five[0].X, 2) + Math.Pow(five[1].Y - five[0].Y, 2));
        if (eyeDist < 1e-3)
            throw new ArgumentException($"degenerate landmarks: the eyes coincide ({five[0].X}, {five[0].Y})");
        var m = SimilarityTransform.Estimate(five, ArcFaceTemplate.Points112);
        if (Math.Abs(m.Determinant) < 1e-12 || !double.IsFinite(m.Determinant))
            throw new ArgumentException($"degenerate landmarks: similarity {m} is singular");
        return m;
    }
}
