using Xcos.ML.FaceModels;

namespace Xcos.ML.Tests;

public sealed class FlipEmbeddingTests
{
    [Fact]
    public void EmbeddingsAddAndTheMirrorsMapIsMirroredBackBeforeTheSum()
    {
        // 2 channels x 1 row x 3 columns
        var face = new FaceEmbedding([1, 2], [1, 2, 3, 10, 20, 30]);
        var mirrored = new FaceEmbedding([5, 7], [100, 200, 300, 1000, 2000, 3000]);
        var sum = FlipEmbedding.Combine(face, mirrored, [2, 1, 3]);
        Assert.Equal([6f, 9f], sum.Embedding);
        Assert.Equal([301f, 202f, 103f, 3010f, 2020f, 1030f], sum.FeatureMap);
    }

    [Fact]
    public void AShapeThatDoesNotMatchTheMapIsRefused()
    {
        var face = new FaceEmbedding([1], [1, 2, 3, 4]);
        var e = Assert.Throws<ArgumentException>(() => FlipEmbedding.Combine(face, face, [1, 2, 3]));
        Assert.Contains("[1,2,3]", e.Message);
    }
}
