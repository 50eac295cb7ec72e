using Google.Protobuf;
using Microsoft.ML;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Networks;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// A randomly initialised TorchSharp xCos model with a MobileFaceNet grid backbone and a MobileFaceNet target, its
/// BatchNorm statistics and affine parameters set away from the identity, in eval mode; its weights and reference
/// outputs on four images (u8 pixels, so the ML.NET pipeline sees the same input from PNG files).
/// </summary>
public sealed class MobileFaceNetXcos : IDisposable
{
    public const int Batch = 4, GridChannels = 32;

    public MobileFaceNetXcos()
    {
        manual_seed(11);
        Model = new XcosModel(new XcosModelOptions { Arch = "mobilefacenet", TargetArch = "mobilefacenet", GridChannels = GridChannels });

        var rng = new Random(5);
        Pixels = new byte[Batch][];
        for (int i = 0; i < Batch; i++)
        {
            Pixels[i] = new byte[112 * 112 * 3];
            // a smooth pattern plus noise: faces are not white noise, and pairs (0,1) share the pattern
            int pattern = i < 2 ? 0 : i;
            for (int y = 0; y < 112; y++)
                for (int x = 0; x < 112; x++)
                    for (int c = 0; c < 3; c++)
                        Pixels[i][(y * 112 + x) * 3 + c] = (byte)Math.Clamp(128 + 90 * Math.Sin((x + 7 * pattern) * 0.07 + c) * Math.Cos((y - 5 * pattern) * 0.05) + rng.Next(-20, 21), 0, 255);
        }
        // NCHW, RGB, (x/255 - 0.5)/0.5
        Images = new float[Batch * 3 * 112 * 112];
        for (int i = 0; i < Batch; i++)
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < 112 * 112; k++)
                    Images[((i * 3) + c) * 112 * 112 + k] = (Pixels[i][k * 3 + c] / 255f - 0.5f) / 0.5f;

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var input = tensor(Images, [Batch, 3, 112, 112]);
        Calibrate(input);
        Weights = TorchOnnxExport.ToWeights(Model);
        var (flat, grid) = Model.Backbone.Grid(input);
        Grid = grid.contiguous().data<float>().ToArray();
        Embedding = flat.contiguous().data<float>().ToArray();
        FaceCode = Model.AttentionNet.Embed(grid).contiguous().data<float>().ToArray();
        TargetEmbedding = Model.BackboneTarget!.Embed(input).contiguous().data<float>().ToArray();
        // pairs (0,1) and (2,3)
        var s = Model.Score(grid[TensorIndex.Slice(0, 4, 2)], grid[TensorIndex.Slice(1, 4, 2)]);
        Xcos = s.Xcos.contiguous().data<float>().ToArray();
        CosMap = s.CosMap.contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// Gives every BatchNorm the statistics a trained net has: with momentum 1, one train-mode pass sets each running
    /// mean and variance to the batch's (a random net's activations shrink layer by layer, so PyTorch's initial 0 / 1
    /// would leave every grid cell equal to the BN shift and every patch cosine near 1); then scales and shifts the
    /// BN affine parameters away from 1 and 0. Leaves the model in eval mode.
    /// </summary>
    private void Calibrate(Tensor input)
    {
        int bns = 0;
        foreach (var m in Model.modules())
        {
            if (!m.GetType().Name.StartsWith("BatchNorm", StringComparison.Ordinal)) continue;
            var momentum = m.GetType().GetProperty("momentum") ?? throw new InvalidOperationException($"{m.GetType()} has no momentum property");
            momentum.SetValue(m, 1.0);
            bns++;
        }
        Assert.True(bns > 100, $"only {bns} BatchNorm modules found");
        Model.Backbone.train();
        Model.BackboneTarget!.train();
        Model.AttentionNet.train();
        using (NewDisposeScope())
        {
            var (_, grid) = Model.Backbone.Grid(input);
            Model.AttentionNet.Embed(grid);
            Model.BackboneTarget.Embed(input);
        }
        foreach (var (name, p) in Model.named_parameters())
        {
            if (p.dim() != 1) continue;
            // PReLU slopes (prelu.*, conv1x1.2, embedding_net.2) stay 0.25; BN affine parameters move
            bool bn = name.EndsWith("bn.weight", StringComparison.Ordinal) || name.EndsWith("bn.bias", StringComparison.Ordinal) || name.Contains(".1.weight") || name.Contains(".1.bias");
            if (bn) p.copy_(name.EndsWith("weight", StringComparison.Ordinal) ? rand(p.shape) * 0.5 + 0.75 : rand(p.shape) * 0.2 - 0.1);
        }
        Model.eval();
    }

    public XcosModel Model { get; }
    public Dictionary<string, WeightTensor> Weights { get; }
    public byte[][] Pixels { get; }
    public float[] Images { get; }
    public float[] Grid { get; }
    public float[] Embedding { get; }
    public float[] FaceCode { get; }
    public float[] TargetEmbedding { get; }
    public float[] Xcos { get; }
    public float[] CosMap { get; }

    public void Dispose() => Model.Dispose();
}

public class OnnxExportMobileFaceNetTests(MobileFaceNetXcos net, ITestOutputHelper output) : IClassFixture<MobileFaceNetXcos>
{
    private void AssertClose(string what, float[] expected, float[] actual, float tol = 1e-4f)
    {
        Assert.Equal(expected.Length, actual.Length);
        // absolute 1e-4 for values of order 1; relative beyond (a random net's grid values can be larger)
        float scale = Math.Max(1f, expected.Max(Math.Abs));
        float max = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        output.WriteLine($"{what}: max |diff| = {max:E2} over {expected.Length} values (max |value| {scale:G4})");
        Assert.True(max <= tol * scale, $"{what}: max |diff| {max:E3} > {tol * scale:E1}");
    }

    private IReadOnlyDictionary<string, (float[] Data, long[] Shape)> RunEmbedding(XcosOnnxExportOptions? options = null) =>
        OnnxExportTests.Run(XcosOnnxExport.BuildEmbeddingModel(net.Weights, options).ToByteArray(),
            new() { ["image"] = (net.Images, [MobileFaceNetXcos.Batch, 3, 112, 112]) });

    [Fact]
    public void ArchitectureIsDetectedFromTheKeys()
    {
        Assert.Contains("backbone.conv_6_sep.conv.weight", net.Weights.Keys);
        Assert.Equal("mobilefacenet", XcosOnnxExport.DetectArchitecture(net.Weights, "backbone"));
        Assert.Equal("mobilefacenet", XcosOnnxExport.DetectArchitecture(net.Weights, "backbone_target"));
        Assert.Null(XcosOnnxExport.DetectArchitecture(net.Weights, "nothing"));
        // the fixture's BN statistics are not PyTorch's initial 0 / 1
        Assert.Contains(net.Weights["backbone.conv_6_sep.bn.running_var"].Data, v => Math.Abs(v - 1) > 0.05);
        Assert.Contains(net.Weights["backbone.conv_3.model.0.conv_dw.bn.running_mean"].Data, v => Math.Abs(v) > 0.01);
        Assert.Contains(net.Weights["backbone_target.bn.running_var"].Data, v => Math.Abs(v - 1) > 0.05);
        Assert.Throws<InvalidDataException>(() => XcosOnnxExport.InferStages(net.Weights, "backbone"));

        var model = XcosOnnxExport.BuildEmbeddingModel(net.Weights);
        var meta = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("mobilefacenet", meta["xcos.arch"]);
        Assert.False(meta.ContainsKey("xcos.stages"));
        // depthwise convolutions carry their group count; every BN is folded into its convolution
        Assert.Contains(model.Graph.Node, n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "group" && a.I == 64));
        Assert.Contains(model.Graph.Node, n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "group" && a.I == 512));
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "BatchNormalization");
        // 4 + 6 + 2 residual blocks in each of the two trunks
        Assert.Equal(2 * 12, model.Graph.Node.Count(n => n.OpType == "Add"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EmbeddingModel_MatchesTorchSharp(bool foldBatchNorm)
    {
        var o = RunEmbedding(new XcosOnnxExportOptions { FoldBatchNorm = foldBatchNorm });
        Assert.Equal(new long[] { 4, 32, 7, 7 }, o["grid"].Shape);
        Assert.Equal(new long[] { 4, 1568 }, o["embedding"].Shape);
        Assert.Equal(new long[] { 4, 16, 7, 7 }, o["face_code"].Shape);
        Assert.Equal(new long[] { 4, 512 }, o["target_embedding"].Shape);
        string tag = foldBatchNorm ? "folded" : "unfolded";
        AssertClose($"grid ({tag})", net.Grid, o["grid"].Data);
        AssertClose($"embedding ({tag})", net.Embedding, o["embedding"].Data);
        AssertClose($"face_code ({tag})", net.FaceCode, o["face_code"].Data);
        AssertClose($"target_embedding ({tag})", net.TargetEmbedding, o["target_embedding"].Data);
        // the outputs are not trivially equal across images (a broken graph could give constants)
        Assert.True(Math.Abs(o["grid"].Data[0] - o["grid"].Data[32 * 49]) + Math.Abs(o["grid"].Data[5] - o["grid"].Data[32 * 49 + 5]) > 1e-6);
    }

    [Fact]
    public void PairHead_OnExportedGrids_MatchesTorchSharpXcos()
    {
        var g = RunEmbedding()["grid"].Data;
        const int n = 32 * 49;
        float[] Rows(params int[] rows) => rows.SelectMany(r => g[(r * n)..((r + 1) * n)]).ToArray();
        var o = OnnxExportTests.Run(XcosOnnxExport.BuildPairHeadModel(net.Weights).ToByteArray(), new()
        {
            ["grid1"] = (Rows(0, 2), [2, 32, 7, 7]),
            ["grid2"] = (Rows(1, 3), [2, 32, 7, 7]),
        });
        AssertClose("xcos", net.Xcos, o["score"].Data);
        AssertClose("cos_map", net.CosMap, o["cos_map"].Data);
        output.WriteLine($"xcos {string.Join(", ", net.Xcos)}; cos_map range [{net.CosMap.Min()}, {net.CosMap.Max()}]");
    }

    [Fact]
    public void MissingBlockWeight_IsNamedInTheError()
    {
        var missing = new Dictionary<string, WeightTensor>(net.Weights);
        missing.Remove("backbone.conv_4.model.3.conv_dw.bn.running_var");
        var e = Assert.Throws<KeyNotFoundException>(() => XcosOnnxExport.BuildEmbeddingModel(missing));
        Assert.Contains("backbone.conv_4.model.3.conv_dw.bn.running_var", e.Message);

        var wrongGroups = new Dictionary<string, WeightTensor>(net.Weights)
        {
            ["backbone.conv2_dw.conv.weight"] = new WeightTensor(new float[64 * 3 * 9], [64, 3, 3, 3]),
        };
        var e2 = Assert.Throws<InvalidDataException>(() => XcosOnnxExport.BuildEmbeddingModel(wrongGroups));
        Assert.Contains("backbone.conv2_dw.conv.weight", e2.Message);
    }

    [Fact]
    public void MlNetPipeline_ScoresPngPairsAsTorchSharp()
    {
        string dir = Path.Combine(Path.GetTempPath(), "xcos-mbf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var paths = net.Pixels.Select((px, i) =>
            {
                string p = Path.Combine(dir, $"face{i}.png");
                ImageIO.SavePng(new RgbImage(112, 112, px), p);
                return p;
            }).ToArray();
            var aligned = FacePairInput.AlignedLandmarks();
            var rows = new[] { (0, 1, true), (2, 3, false) }.Select(p => new FacePairInput
            {
                ImagePath1 = paths[p.Item1], ImagePath2 = paths[p.Item2], Landmarks1 = aligned, Landmarks2 = aligned, Label = p.Item3,
            }).ToArray();
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var model = ml.Transforms.VerifyFacePairs(new XcosPipelineOptions { Weights = net.Weights, Threshold = 0.5f }).Fit(data);
            var scored = ml.Data.CreateEnumerable<FacePairPrediction>(model.Transform(data), reuseRowObject: false).ToArray();
            Assert.Equal(2, scored.Length);
            Assert.All(scored, p => Assert.Equal("ok", p.Status));
            AssertClose("pipeline xcos", net.Xcos, scored.Select(p => p.Xcos).ToArray(), 1e-3f);
            AssertClose("pipeline cos_map", net.CosMap, scored.SelectMany(p => p.CosineMap).ToArray(), 1e-3f);
            Assert.All(scored, p => Assert.Equal(49, p.Attention.Length));
            Assert.All(scored, p => Assert.Equal(1.0, p.Attention.Sum(), 4));
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
