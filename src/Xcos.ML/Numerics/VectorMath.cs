namespace Xcos.ML.Numerics;

/// <summary>Vector arithmetic shared by every path that compares embeddings.</summary>
public static class VectorMath
{
    /// <summary>
    /// Cosine of two vectors, accumulated in double. A zero or non-finite vector has no direction, so it has no cosine:
    /// that is an error here (never a silent 0 or NaN). Callers that meet such an embedding report the face as a model
    /// failure instead (the verifiers check <see cref="HasDirection"/> first).
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, or either vector is zero or holds NaN/infinity.</exception>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors differ in length ({a.Length} vs {b.Length})");
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            ab += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        if (!(aa > 0) || !(bb > 0) || double.IsInfinity(aa) || double.IsInfinity(bb) || double.IsNaN(ab))
            throw new ArgumentException($"cosine of a vector without a direction (squared norms {aa} and {bb}): an embedding is zero or not finite");
        return ab / Math.Sqrt(aa * bb);
    }

    /// <summary>Whether <paramref name="v"/> is finite and not zero, i.e. has a cosine with other vectors.</summary>
    public static bool HasDirection(ReadOnlySpan<float> v)
    {
        bool nonZero = false;
        foreach (var x in v)
        {
            if (!float.IsFinite(x)) return false;
            nonZero |= x != 0;
        }
        return nonZero;
    }
}
