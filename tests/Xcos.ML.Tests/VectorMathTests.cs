using Xcos.ML.Numerics;
using Xunit;

namespace Xcos.ML.Tests;

public class VectorMathTests
{
    [Fact]
    public void Cosine_is_the_normalised_dot_product()
    {
        Assert.Equal(1.0, VectorMath.Cosine([1f, 2f, 3f], [2f, 4f, 6f]), 12);
        Assert.Equal(0.0, VectorMath.Cosine([1f, 0f], [0f, 5f]), 12);
        Assert.Equal(-1.0, VectorMath.Cosine([1f, -1f], [-3f, 3f]), 12);
        Assert.Equal(1 / Math.Sqrt(2), VectorMath.Cosine([1f, 0f], [1f, 1f]), 12);
    }

    [Fact]
    public void A_vector_without_a_direction_has_no_cosine()
    {
        // zero or non-finite: an error, never a silent 0 or NaN
        Assert.Contains("zero or not finite", Assert.Throws<ArgumentException>(() => VectorMath.Cosine([0f, 0f], [1f, 2f])).Message);
        Assert.Throws<ArgumentException>(() => VectorMath.Cosine([1f, 2f], [0f, 0f]));
        Assert.Throws<ArgumentException>(() => VectorMath.Cosine([float.NaN, 1f], [1f, 2f]));
        Assert.Throws<ArgumentException>(() => VectorMath.Cosine([float.PositiveInfinity, 1f], [1f, 2f]));
        Assert.Contains("length", Assert.Throws<ArgumentException>(() => VectorMath.Cosine([1f], [1f, 2f])).Message);
    }

    [Fact]
    public void HasDirection_tells_usable_vectors_apart()
    {
        Assert.True(VectorMath.HasDirection([0f, 1e-30f]));
        Assert.False(VectorMath.HasDirection([0f, 0f]));
        Assert.False(VectorMath.HasDirection([1f, float.NaN]));
        Assert.False(VectorMath.HasDirection([]));
    }
}
