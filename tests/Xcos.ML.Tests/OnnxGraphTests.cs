using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>A fact that is skipped, with the reason, when the real MobileFaceNet feature model is not on this machine.</summary>
public sealed class RealFaceModelFactAttribute : FactAttribute
{
    public RealFaceModelFactAttribute()
    {
        if (OnnxGraphTests.RealFeatureModelPath() is null)
            Skip = "fr_feature.onnx not found: set XCOS_MODELS to the folder holding it (looked in $XCOS_MODELS and the repository's .models)";
    }
}

public class OnnxGraphTests(Xunit.Abstractions.ITestOutputHelper output)
{
    internal static string? RealFeatureModelPath()
    {
        foreach (var dir in new[] { Environment.GetEnvironmentVariable("XCOS_MODELS"), RealFaces.RepoModels() })
        {
            if (string.IsNullOrEmpty(dir)) continue;
            var p = Path.Combine(dir, "fr_feature.onnx");
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>Runs a model on float inputs and returns every requested output with its shape.</summary>
    internal static IReadOnlyDictionary<string, (float[] Data, long[] Shape)> Run(byte[] model, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> inputs, params string[] outputs)
        => OnnxModelFile.Load(model).Run(inputs, outputs);

    /// <summary>Input [N,1,3,3] -> Conv 2x2 (identity diagonal, bias -7) named "pre" -> Relu -> GlobalAveragePool.</summary>
    private static OnnxGraphBuilder ConvReluModel()
    {
        var b = new OnnxGraphBuilder("conv_relu");
        string x = b.AddInput("x", [-1, 1, 3, 3]);
        string w = b.Initializer("w", [1, 0, 0, 1], [1, 1, 2, 2]);
        string bias = b.Initializer("b", [-7], [1]);
        string pre = b.Conv(x, w, bias, stride: 1, pad: 0, name: "pre");
        string y = b.AddOutput(b.Relu(pre), "y", [-1, 1, 2, 2]);
        b.AddOutput(b.GlobalAveragePool(y), "pooled", [-1, 1, 1, 1]);
        return b;
    }

    private static readonly float[] ConvInput = [1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 4, 6, 8, 10, 12, 14, 16, 18];

    [Fact]
    public void ConvRelu_GivesHandComputedNumbers_WithSymbolicBatch()
    {
        var model = ConvReluModel().Build();
        Assert.Equal(8, model.IrVersion);
        Assert.Equal(17, model.OpsetImport.Single().Version);
        Assert.Equal("N", model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);

        var outs = Run(model.ToByteArray(), new Dictionary<string, (float[], long[])> { ["x"] = (ConvInput, [2, 1, 3, 3]) });
        // x[i,j] + x[i+1,j+1] - 7: sample 0 gives -1,1,5,7 (relu clips -1), sample 1 doubles x: 5,9,17,21.
        Assert.Equal(new long[] { 2, 1, 2, 2 }, outs["y"].Shape);
        Assert.Equal(new float[] { 0, 1, 5, 7, 5, 9, 17, 21 }, outs["y"].Data);
        Assert.Equal(new float[] { 13f / 4, 52f / 4 }, outs["pooled"].Data);
    }

    [Fact]
    public void Reductions_UseOpset17AxesForms_AndGiveExactValues()
    {
        var b = new OnnxGraphBuilder();
        string x = b.AddInput("x", [-1, 3]);
        b.AddOutput(b.ReduceSum(x, [1], keepDims: false), "sum", [-1]);
        b.AddOutput(b.ReduceL2(x, [1], keepDims: true), "l2", [-1, 1]);
        b.AddOutput(b.Softmax(x, 1), "softmax", [-1, 3]);
        b.AddOutput(b.L2Normalize(x, 1, 1e-12f), "unit", [-1, 3]);
        b.AddOutput(b.Clip(x, 0f, 2f), "clip", [-1, 3]);
        b.AddOutput(b.Gemm(x, b.Initializer("w", [1, 0, 0, 0, 1, 1], [2, 3]), b.Initializer("c", [10, 20], [2])), "gemm", [-1, 2]);
        b.AddOutput(b.Concat(1, [x, b.Reshape(b.Sub(x, b.Scalar(1)), [0, 3])]), "concat", [-1, 6]);
        var model = b.Build();

        var sumNode = model.Graph.Node.Single(n => n.OpType == "ReduceSum");
        Assert.Equal(2, sumNode.Input.Count);                       // axes as input in opset 13+
        var l2Node = model.Graph.Node.First(n => n.OpType == "ReduceL2");
        Assert.Single(l2Node.Input);                                 // axes as attribute before opset 18
        Assert.Contains(l2Node.Attribute, a => a.Name == "axes" && a.Ints.SequenceEqual(new long[] { 1 }));

        var o = Run(model.ToByteArray(), new Dictionary<string, (float[], long[])> { ["x"] = ([3, 4, 0, -1, 2, 2], [2, 3]) });
        Assert.Equal(new float[] { 7, 3 }, o["sum"].Data);
        Assert.Equal(new float[] { 5, 3 }, o["l2"].Data);
        Assert.Equal(new[] { 0.6f, 0.8f, 0f, -1f / 3, 2f / 3, 2f / 3 }, o["unit"].Data, new Tol(1e-6f));
        double e0 = Math.Exp(3) + Math.Exp(4) + 1;
        Assert.Equal(new[] { (float)(Math.Exp(3) / e0), (float)(Math.Exp(4) / e0), (float)(1 / e0) }, o["softmax"].Data[..3], new Tol(1e-6f));
        Assert.Equal(new float[] { 2, 2, 0, 0, 2, 2 }, o["clip"].Data);
        Assert.Equal(new float[] { 13, 24, 9, 24 }, o["gemm"].Data);
        Assert.Equal(new float[] { 3, 4, 0, 2, 3, -1, -1, 2, 2, -2, 1, 1 }, o["concat"].Data);
    }

    [Fact]
    public void UniqueName_AddsSuffixes_AndDuplicateInputIsRejected()
    {
        var b = new OnnxGraphBuilder();
        Assert.Equal("conv", b.UniqueName("conv"));
        Assert.Equal("conv_1", b.UniqueName("conv"));
        Assert.Equal("conv_2", b.UniqueName("conv"));
        b.AddInput("x", [1]);
        Assert.Throws<ArgumentException>(() => b.AddInput("x", [1]));
        Assert.Throws<ArgumentException>(() => b.Initializer("w", [1, 2, 3], [2, 2]));
    }

    [Fact]
    public void AddOutput_ExposesAnIntermediateValue_ThatOrtComputes()
    {
        var file = OnnxModelFile.Load(ConvReluModel().ToBytes());
        var pre = file.ListValues().Single(v => v.Kind == OnnxValueKind.NodeOutput && v.ProducerOpType == "Conv");
        Assert.Equal("pre", pre.Name);
        Assert.Throws<ArgumentException>(() => file.AddOutput("no_such_value"));

        file.AddOutput(pre.Name);
        file.AddOutput(pre.Name);                                    // idempotent
        Assert.Equal(new[] { "y", "pooled", "pre" }, file.OutputNames);

        var outs = Run(file.ToBytes(), new Dictionary<string, (float[], long[])> { ["x"] = (ConvInput, [2, 1, 3, 3]) }, "pre");
        Assert.Equal(new float[] { -1, 1, 5, 7, 5, 9, 17, 21 }, outs["pre"].Data);   // before the relu
    }

    [Fact]
    public void FindLastFeatureMap_RunsOrtWhenShapesAreUndeclared_AndUsesValueInfoWhenDeclared()
    {
        var b = new OnnxGraphBuilder();
        string x = b.AddInput("x", [-1, 2, 14, 14]);
        var rng = new Random(1);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        string c1 = b.Conv(x, b.Initializer("w1", Rand(4 * 2 * 9), [4, 2, 3, 3]), null, stride: 2, pad: 1, name: "c1");   // 7x7
        string r1 = b.Relu(c1, "r1");                                                                                        // 7x7, last one
        string p = b.MaxPool(r1, 2, 2, 0, "p");                                                                               // 3x3
        string flat = b.Flatten(p, 1, "flat");
        b.AddOutput(flat, "out", [-1, 36]);
        var file = OnnxModelFile.FromModel(b.Build());

        var shapes = file.RunShapes();
        Assert.Equal(new long[] { 1, 4, 7, 7 }, shapes["c1"].Shape);
        Assert.Equal(new long[] { 1, 4, 3, 3 }, shapes["p"].Shape);
        Assert.Equal("r1", file.FindLastFeatureMap()!.Name);
        Assert.Null(file.FindLastFeatureMap(5, 5));
        Assert.Equal(new[] { "out" }, file.OutputNames);               // probing does not change the model

        // Declared value_info wins over running: a (deliberately wrong) 7x7 declaration for p is believed.
        foreach (var (name, shape) in new[] { ("c1", new long[] { 1, 4, 7, 7 }), ("r1", [1, 4, 7, 7]), ("p", [1, 4, 7, 7]), ("flat", [1, 36]) })
            file.Graph.ValueInfo.Add(OnnxGraphBuilder.ValueInfo(name, shape, TensorProto.Types.DataType.Float));
        Assert.Equal("p", file.FindLastFeatureMap()!.Name);
    }

    [Fact]
    public void ReadInitializer_RoundTripsFloatData()
    {
        var b = ConvReluModel();
        var file = OnnxModelFile.Load(b.ToBytes());
        var (data, shape) = file.ReadInitializer("w");
        Assert.Equal(new float[] { 1, 0, 0, 1 }, data);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, shape);
        Assert.Equal(2, file.ReadFloatInitializers().Count);
        Assert.Throws<KeyNotFoundException>(() => file.ReadInitializer("nope"));

        // float_data storage (instead of raw_data) reads the same.
        var t = new TensorProto { Name = "fd", DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(3); t.FloatData.Add([1.5f, -2f, 3f]);
        Assert.Equal(new[] { 1.5f, -2f, 3f }, OnnxTensors.ToFloat(t));
        t.Dims[0] = 4;
        Assert.Contains("fd", Assert.Throws<InvalidDataException>(() => OnnxTensors.ToFloat(t)).Message);
    }

    [Fact]
    public void SaveAndLoad_FromFile_KeepsTheModel()
    {
        string path = Path.Combine(Path.GetTempPath(), $"xcos_onnx_{Guid.NewGuid():N}.onnx");
        try
        {
            ConvReluModel().Save(path);
            var file = OnnxModelFile.Load(path);
            Assert.Equal(path, file.Source);
            Assert.Equal(new[] { "x" }, file.InputNames);
            Assert.Equal(new[] { "Conv", "Relu", "Identity", "GlobalAveragePool", "Identity" }, file.Graph.Node.Select(n => n.OpType));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Load_CorruptOrTruncatedFile_NamesTheFile()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"xcos_onnx_{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            byte[] good = ConvReluModel().ToBytes();
            string truncated = Path.Combine(dir, "truncated.onnx");
            File.WriteAllBytes(truncated, good[..(good.Length / 2)]);
            var e1 = Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(truncated));
            Assert.Contains(truncated, e1.Message);

            string text = Path.Combine(dir, "text.onnx");
            File.WriteAllText(text, "this is not an onnx model at all\n");
            var e2 = Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(text));
            Assert.Contains(text, e2.Message);

            string empty = Path.Combine(dir, "empty.onnx");
            File.WriteAllBytes(empty, []);
            Assert.Contains(empty, Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(empty)).Message);

            Assert.Throws<FileNotFoundException>(() => OnnxModelFile.Load(Path.Combine(dir, "missing.onnx")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [RealFaceModelFact]
    public void RealMobileFaceNet_LastSevenBySevenMap_CanBeExposedAndRead()
    {
        string path = RealFeatureModelPath()!;
        var file = OnnxModelFile.Load(path);
        var map = file.FindLastFeatureMap();
        Assert.NotNull(map);
        Assert.Equal(4, map!.Shape!.Length);
        Assert.Equal(512, map.Shape[1]);
        output.WriteLine($"{path}: last 7x7 map '{map.Name}' [{string.Join(",", map.Shape)}] from {map.ProducerOpType} node #{map.NodeIndex} of {file.Graph.Node.Count}; " +
                         $"value_info entries: {file.Graph.ValueInfo.Count}");

        file.AddOutput(map.Name);
        var input = file.ListValues().Single(v => v.Kind == OnnxValueKind.Input);
        long[] dims = input.Shape!.Select(d => d < 0 ? 1L : d).ToArray();
        var rng = new Random(3);
        float[] x = Enumerable.Range(0, (int)dims.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)rng.NextDouble()).ToArray();
        var outs = Run(file.ToBytes(), new Dictionary<string, (float[], long[])> { [input.Name] = (x, dims) }, map.Name);
        Assert.Equal(new long[] { 1, 512, 7, 7 }, outs[map.Name].Shape);
        Assert.Contains(outs[map.Name].Data, v => v != 0);

        var weights = file.ReadFloatInitializers();
        Assert.NotEmpty(weights);
        Assert.All(weights, kv => Assert.Equal(kv.Value.Shape.Aggregate(1L, (a, b) => a * b), kv.Value.Data.Length));
    }

    private sealed class Tol(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(float v) => 0;
    }
}
