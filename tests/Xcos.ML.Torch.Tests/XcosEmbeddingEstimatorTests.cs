using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Data;
using Xcos.ML.MLNet;
using Xcos.ML.Torch.MLNet;

namespace Xcos.ML.Torch.Tests;

public class XcosEmbeddingEstimatorTests
{
    private sealed class FaceRow
    {
        [VectorType(3, 112, 112)] public float[] FaceTensor { get; set; } = [];
    }

    private static string Checkpoint => Fixtures.Path("xcos_tiny", "checkpoint.pth");

    private static float[] Fixture(string name) => Npy.Read(Fixtures.Path("xcos_tiny", name)).AsFloat32();

    private static IDataView Images(MLContext ml)
    {
        var u8 = Fixture("input1_u8.npy");
        const int size = 3 * 112 * 112;
        return ml.Data.LoadFromEnumerable(Enumerable.Range(0, 4).Select(i => new FaceRow
        {
            FaceTensor = u8[(i * size)..((i + 1) * size)].Select(v => (v / 255f - 0.5f) / 0.5f).ToArray(),
        }));
    }

    private static void Close(float[] expected, float[][] rows, float tol, string what)
    {
        int size = expected.Length / rows.Length;
        for (int r = 0; r < rows.Length; r++)
        {
            Assert.Equal(size, rows[r].Length);
            float max = rows[r].Select((v, i) => Math.Abs(v - expected[r * size + i])).Max();
            Assert.True(max <= tol, $"{what} row {r}: max |diff| {max:E3} > {tol:E1}");
        }
    }

    [Fact]
    public void CheckpointIsWrappedWithoutTraining()
    {
        var ml = new MLContext(seed: 1);
        var data = Images(ml);
        var est = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions { CheckpointPath = Checkpoint, TargetEmbeddingColumnName = "Target" });
        // schema, save/load in a context that knows only ML.NET (no assembly registered), refused inputs
        var output = EstimatorConformance.Check(ml, est, data, new() { RequiredColumns = ["FaceTensor"] });
        float[][] Col(string n) => output.GetColumn<VBuffer<float>>(n).Select(v => v.DenseValues().ToArray()).ToArray();
        Close(Fixture("grid1.npy"), Col("Grid"), 1e-4f, "grid");
        Close(Fixture("flat1.npy"), Col("Embedding"), 1e-4f, "embedding");
        Close(Fixture("target_emb1.npy"), Col("Target"), 1e-4f, "target embedding");
        Assert.Equal(16 * 49, Col("FaceCode")[0].Length);
        Assert.Contains("attention.attention.0.weight", est.Weights.Keys);

    }

    [Fact]
    public void BadCheckpointOptionsAreReported()
    {
        var ml = new MLContext(seed: 1);
        Assert.Contains("CheckpointPath is required", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions())).Message);
        Assert.Contains("leave ModelBytes", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(
            new XcosTrainingEmbeddingOptions { CheckpointPath = Checkpoint, ModelBytes = [1] })).Message);
        var missing = Path.Combine(Path.GetTempPath(), $"no_such_{Guid.NewGuid():N}.pth");
        var est = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions { CheckpointPath = missing });
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => est.Fit(Images(ml))).Message);
        var notCheckpoint = Fixtures.Path("xcos_tiny", "xcos.npy");
        var bad = ml.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions { CheckpointPath = notCheckpoint });
        Assert.Contains(notCheckpoint, Assert.Throws<InvalidDataException>(() => bad.Fit(Images(ml))).Message);
    }
}
