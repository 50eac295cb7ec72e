namespace Xcos.ML.Alignment;

/// <summary>
/// A 2x3 affine matrix <c>[[M00, M01, M02], [M10, M11, M12]]</c> mapping (x, y) to
/// (M00 x + M01 y + M02, M10 x + M11 y + M12), the layout of OpenCV's <c>warpAffine</c> and scikit-image's <c>params[:2]</c>.
/// </summary>
public readonly record struct Affine2x3(double M00, double M01, double M02, double M10, double M11, double M12)
{
    /// <summary>The map that leaves every point where it is.</summary>
    public static Affine2x3 Identity => new(1, 0, 0, 0, 1, 0);

    /// <summary>From a row-major 2x3 array.</summary>
    public static Affine2x3 FromRows(double[,] m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (m.GetLength(0) != 2 || m.GetLength(1) != 3)
            throw new ArgumentException($"an affine matrix is 2x3, got {m.GetLength(0)}x{m.GetLength(1)}", nameof(m));
        return new(m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[1, 2]);
    }

    /// <summary>The matrix as a 2x3 array, rows [M00 M01 M02] and [M10 M11 M12] (OpenCV's layout).</summary>
    public double[,] ToRows() => new[,] { { M00, M01, M02 }, { M10, M11, M12 } };

    /// <summary>Determinant of the linear part.</summary>
    public double Determinant => M00 * M11 - M01 * M10;

    /// <summary>Maps the point (x, y): (M00 x + M01 y + M02, M10 x + M11 y + M12).</summary>
    public (double X, double Y) Apply(double x, double y) => (M00 * x + M01 * y + M02, M10 * x + M11 * y + M12);

    /// <summary>The inverse map, computed as OpenCV's <c>invertAffineTransform</c> does.</summary>
    /// <exception cref="InvalidOperationException">The matrix is singular.</exception>
    public Affine2x3 Inverse()
    {
        double det = Determinant;
        if (det == 0 || !double.IsFinite(det))
            throw new InvalidOperationException($"affine matrix {this} is singular (determinant {det}) and has no inverse");
        double d = 1.0 / det;
        double a11 = M11 * d, a22 = M00 * d, a12 = -M01 * d, a21 = -M10 * d;
        return new(a11, a12, -a11 * M02 - a12 * M12, a21, a22, -a21 * M02 - a22 * M12);
    }

    /// <inheritdoc/>
    public override string ToString() => $"[[{M00:G6}, {M01:G6}, {M02:G6}], [{M10:G6}, {M11:G6}, {M12:G6}]]";
}
