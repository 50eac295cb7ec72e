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
