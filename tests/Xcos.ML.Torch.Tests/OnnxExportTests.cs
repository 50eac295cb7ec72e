using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using Xcos.ML.Data;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>The xcos_tiny checkpoint's weights and both exported models, built once for the test class.</summary>
public sealed class XcosTinyOnnx
{
    public XcosTinyOnnx()
    {
        Weights = TorchOnnxExport.LoadCheckpointWeights(Fixtures.Path("xcos_tiny", "checkpoint.pth"));
        Embedding = XcosOnnxExport.BuildEmbeddingModel(Weights).ToByteArray();
        PairHead = XcosOnnxExport.BuildPairHeadModel(Weights).ToByteArray();
        // Both images of the 4 pairs as one batch of 8: (u8/255 - 0.5)/0.5.
        var u1 = Npy.Read(Fixtures.Path("xcos_tiny", "input1_u8.npy")).AsFloat32();
        var u2 = Npy.Read(Fixtures.Path("xcos_tiny", "input2_u8.npy")).AsFloat32();
        Images = u1.Concat(u2).Select(v => (v / 255f - 0.5f) / 0.5f).ToArray();
        EmbeddingOutputs = OnnxExportTests.Run(Embedding, new() { ["image"] = (Images, [8, 3, 112, 112]) });
    }

    public Dictionary<string, WeightTensor> Weights { get; }
    public byte[] Embedding { get; }
    public byte[] PairHead { get; }
    public float[] Images { get; }
    public IReadOnlyDictionary<string, (float[] Data, long[] Shape)> EmbeddingOutputs { get; }

    /// <summary>Rows [from, from+count) of a batch-major array with <paramref name="rowSize"/> values per row.</summary>
    public static float[] Rows(float[] data, int rowSize, int from, int count) => data[(from * rowSize)..((from + count) * rowSize)];
}

public class OnnxExportTests(XcosTinyOnnx tiny, ITestOutputHelper output) : IClassFixture<XcosTinyOnnx>
{
    private const float Tol = 1e-4f;
    private const int GridSize = 32 * 49;

    internal static IReadOnlyDictionary<string, (float[] Data, long[] Shape)> Run(byte[] model, Dictionary<string, (float[] Data, long[] Shape)> inputs)
        => OnnxModelFile.Load(model).Run(inputs);

    private float AssertClose(string what, float[] expected, float[] actual, float tol = Tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        output.WriteLine($"{what}: max |diff| = {max:E2} over {expected.Length} values");
        Assert.True(max <= tol, $"{what}: max |diff| {max:E3} > {tol:E1}");
        return max;
    }

    private static float[] Fixture(string name) => Npy.Read(Fixtures.Path("xcos_tiny", name)).AsFloat32();

    [Fact]
    public void StageTable_IsInferredFromTheKeys()
    {
        Assert.Equal(new[] { 1, 1, 1, 1 }, XcosOnnxExport.InferStages(tiny.Weights, "backbone"));
        Assert.Equal(new[] { 1, 1, 1, 1 }, XcosOnnxExport.InferStages(tiny.Weights, "backbone_target"));
        Assert.DoesNotContain(tiny.Weights.Keys, k => k.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        var meta = OnnxModelFile.Load(tiny.Embedding).Model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("1,1,1,1", meta["xcos.stages"]);
        Assert.Equal("true", meta["xcos.se"]);
    }

    [Fact]
    public void EmbeddingModel_MatchesPyTorchFixtures()
    {
        var o = tiny.EmbeddingOutputs;
        Assert.Equal(new long[] { 8, 32, 7, 7 }, o["grid"].Shape);
        Assert.Equal(new long[] { 8, 1568 }, o["embedding"].Shape);
        Assert.Equal(new long[] { 8, 16, 7, 7 }, o["face_code"].Shape);
        Assert.Equal(new long[] { 8, 512 }, o["target_embedding"].Shape);

        AssertClose("grid1", Fixture("grid1.npy"), XcosTinyOnnx.Rows(o["grid"].Data, GridSize, 0, 4));
        AssertClose("flat1", Fixture("flat1.npy"), XcosTinyOnnx.Rows(o["embedding"].Data, GridSize, 0, 4));
        AssertClose("flat2", Fixture("flat2.npy"), XcosTinyOnnx.Rows(o["embedding"].Data, GridSize, 4, 4));
        AssertClose("target_emb1", Fixture("target_emb1.npy"), XcosTinyOnnx.Rows(o["target_embedding"].Data, 512, 0, 4));

        var t = o["target_embedding"].Data;
        var targetCos = Enumerable.Range(0, 4).Select(i => Enumerable.Range(0, 512).Sum(j => t[i * 512 + j] * t[(i + 4) * 512 + j])).ToArray();
        AssertClose("target_cos", Fixture("target_cos.npy"), targetCos);
    }

    [Fact]
    public void PairHead_MatchesPyTorchFixtures()
    {
        var grid = tiny.EmbeddingOutputs["grid"].Data;
        var o = Run(tiny.PairHead, new()
        {
            ["grid1"] = (XcosTinyOnnx.Rows(grid, GridSize, 0, 4), [4, 32, 7, 7]),
            ["grid2"] = (XcosTinyOnnx.Rows(grid, GridSize, 4, 4), [4, 32, 7, 7]),
        });
        Assert.Equal(new long[] { 4 }, o["score"].Shape);
        Assert.Equal(new long[] { 4, 49 }, o["cos_map"].Shape);
        Assert.Equal(new long[] { 4, 49 }, o["attention"].Shape);
        AssertClose("xcos", Fixture("xcos.npy"), o["score"].Data);
        AssertClose("cos_map", Fixture("cos_map.npy"), o["cos_map"].Data);
        AssertClose("attention", Fixture("attention.npy"), o["attention"].Data);

        var f1 = Fixture("flat1.npy");
        var f2 = Fixture("flat2.npy");
        var cosine = Enumerable.Range(0, 4).Select(i => Enumerable.Range(0, GridSize).Sum(j => f1[i * GridSize + j] * f2[i * GridSize + j])).ToArray();
        AssertClose("cosine", cosine, o["cosine"].Data);
        // Pairs 0 and 1 are an image and its noisy copy; 2 and 3 are unrelated.
        Assert.True(o["score"].Data[0] > o["score"].Data[2] && o["score"].Data[1] > o["score"].Data[3]);
    }

    [Fact]
    public void PairHead_FromFaceCodes_EqualsPairHeadFromGrids()
    {
        var e = tiny.EmbeddingOutputs;
        var fromCodes = XcosOnnxExport.BuildPairHeadModel(tiny.Weights, new XcosOnnxExportOptions { PairHeadInputs = XcosPairHeadInputs.GridsAndFaceCodes });
        const int codeSize = 16 * 49;
        var o = Run(fromCodes.ToByteArray(), new()
        {
            ["grid1"] = (XcosTinyOnnx.Rows(e["grid"].Data, GridSize, 0, 4), [4, 32, 7, 7]),
            ["grid2"] = (XcosTinyOnnx.Rows(e["grid"].Data, GridSize, 4, 4), [4, 32, 7, 7]),
            ["code1"] = (XcosTinyOnnx.Rows(e["face_code"].Data, codeSize, 0, 4), [4, 16, 7, 7]),
            ["code2"] = (XcosTinyOnnx.Rows(e["face_code"].Data, codeSize, 4, 4), [4, 16, 7, 7]),
        });
        AssertClose("xcos (codes)", Fixture("xcos.npy"), o["score"].Data);
        AssertClose("attention (codes)", Fixture("attention.npy"), o["attention"].Data);
    }

    [Fact]
    public void UnfoldedBatchNorm_GivesTheSameEmbeddings()
    {
        var model = XcosOnnxExport.BuildEmbeddingModel(tiny.Weights, new XcosOnnxExportOptions { FoldBatchNorm = false });
        Assert.True(model.Graph.Node.Count(n => n.OpType == "BatchNormalization") > 8);
        var o = Run(model.ToByteArray(), new() { ["image"] = (XcosTinyOnnx.Rows(tiny.Images, 3 * 112 * 112, 0, 4), [4, 3, 112, 112]) });
        AssertClose("grid1 (unfolded BN)", Fixture("grid1.npy"), o["grid"].Data);
        AssertClose("target_emb1 (unfolded BN)", Fixture("target_emb1.npy"), o["target_embedding"].Data);
    }

    [Fact]
    public void MissingOrMisshapenWeight_IsNamedInTheError()
    {
        var missing = new Dictionary<string, WeightTensor>(tiny.Weights);
        missing.Remove("backbone.body.2.res_layer.3.weight");
        var e1 = Assert.Throws<KeyNotFoundException>(() => XcosOnnxExport.BuildEmbeddingModel(missing));
        Assert.Contains("backbone.body.2.res_layer.3.weight", e1.Message);

        var misshapen = new Dictionary<string, WeightTensor>(tiny.Weights)
        {
            ["backbone.conv1x1.1.running_var"] = new WeightTensor(new float[31], [31]),
        };
        var e2 = Assert.Throws<InvalidDataException>(() => XcosOnnxExport.BuildEmbeddingModel(misshapen));
        Assert.Contains("backbone.conv1x1.1.running_var", e2.Message);
        Assert.Contains("[32]", e2.Message);

        var wrongCount = new Dictionary<string, WeightTensor> { ["x"] = new WeightTensor(new float[3], [2, 2]) };
        Assert.Throws<InvalidDataException>(() => XcosOnnxExport.BuildPairHeadModel(wrongCount));
    }

    [Fact]
    public void ToWeights_CopiesFloatParametersAndBuffers_AndSkipsIntegerBuffers()
    {
        using var scope = NewDisposeScope();
        var module = nn.Sequential(("0", nn.Conv2d(2, 3, 1)), ("1", nn.BatchNorm2d(3)));
        var w = TorchOnnxExport.ToWeights(module);
        Assert.Equal(new[] { "0.bias", "0.weight", "1.bias", "1.running_mean", "1.running_var", "1.weight" }, w.Keys.Order());
        Assert.Equal(new long[] { 3, 2, 1, 1 }, w["0.weight"].Shape);
        var expected = module.state_dict()["0.weight"].data<float>().ToArray();
        Assert.Equal(expected, w["0.weight"].Data);
        Assert.Equal(new float[] { 1, 1, 1 }, w["1.running_var"].Data);
    }

    [Fact]
    public void LoadCheckpointWeights_CorruptFile_NamesTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"xcos_bad_{Guid.NewGuid():N}.pth");
        File.WriteAllText(path, "not a checkpoint");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => TorchOnnxExport.LoadCheckpointWeights(path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }
}
