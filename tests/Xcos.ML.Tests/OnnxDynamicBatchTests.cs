using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xunit;

namespace Xcos.ML.Tests;

public class OnnxDynamicBatchTests
{
    // A model exported at batch 1: Conv, PRelu-free ReLU, then a Reshape to a constant [1, -1], as fr_feature ends.
    private static OnnxModelFile FixedBatchModel()
    {
        var b = new OnnxGraphBuilder();
        var x = b.AddInput("input", [1, 2, 4, 4]);
        var rng = new Random(3);
        var w = b.Initializer("w", Enumerable.Range(0, 3 * 2 * 3 * 3).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), [3, 2, 3, 3]);
        var y = b.Relu(b.Conv(x, w, null, pad: 1));
        b.AddOutput(b.Reshape(y, [1, -1]), "output", [1, 48]);
        return OnnxModelFile.FromModel(b.Build());
    }

    [Fact]
    public void AFixedBatchModelRunsAnyBatchWithTheRowsOfSingleRuns()
    {
        var model = FixedBatchModel();
        Assert.Equal(1L, OnnxDynamicBatch.FixedBatch(model.Model));
        // At batch 3 the fixed model fails in ONNX Runtime (the input shape, then the reshape to [1, -1]).
        var rng = new Random(5);
        var batch = Enumerable.Range(0, 3 * 32).Select(_ => (float)rng.NextDouble()).ToArray();
        Assert.Throws<InvalidOperationException>(() => model.Run(new Dictionary<string, (float[], long[])> { ["input"] = (batch, [3, 2, 4, 4]) }));

        var dynamic = OnnxModelFile.Load(model.ToBytes());
        Assert.Equal(1, OnnxDynamicBatch.Rewrite(dynamic.Model));
        Assert.Null(OnnxDynamicBatch.FixedBatch(dynamic.Model));
        Assert.Equal(-1, OnnxDynamicBatch.Rewrite(dynamic.Model));
        var (data, shape) = dynamic.Run(new Dictionary<string, (float[], long[])> { ["input"] = (batch, [3, 2, 4, 4]) })["output"];
        Assert.Equal(new long[] { 3, 48 }, shape);
        for (int i = 0; i < 3; i++)
        {
            var one = model.Run(new Dictionary<string, (float[], long[])> { ["input"] = (batch[(i * 32)..((i + 1) * 32)], [1, 2, 4, 4]) })["output"].Data;
            Assert.Equal(one, data[(i * 48)..((i + 1) * 48)]);
        }
    }

    [DevFacesFact]
    public void FrFeatureEmbedsABatchAsItEmbedsEachFace()
    {
        var models = RealFaces.ModelsDir()!;
        using var embedder = new OnnxFaceEmbedder(FaceModelDescriptor.FrFeature(), Path.Combine(models, "fr_feature.onnx"), intraOpThreads: 1);
        Assert.True(embedder.Batched);
        using var detector = FaceDetector.FromDirectory(models);
        var faces = Directory.GetFiles(Path.Combine(DevFaces.Root, "photos"), "*.jpg", SearchOption.AllDirectories).Order().Take(3)
            .Select(p => detector.DetectAndAlign(ImageIO.Load(p)).Face!).ToArray();
        var batch = embedder.Embed(faces);
        for (int i = 0; i < faces.Length; i++)
        {
            var one = embedder.Embed(faces[i]);
            for (int k = 0; k < one.Embedding.Length; k++) Assert.True(Math.Abs(one.Embedding[k] - batch[i].Embedding[k]) < 1e-4, $"face {i} value {k}");
            for (int k = 0; k < one.FeatureMap.Length; k += 7) Assert.True(Math.Abs(one.FeatureMap[k] - batch[i].FeatureMap[k]) < 1e-4, $"face {i} map {k}");
        }
    }
}
