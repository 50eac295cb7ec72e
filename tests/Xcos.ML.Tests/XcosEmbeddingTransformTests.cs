using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>
/// A small random xCos network (no TorchSharp here): IR-SE trunk 8-12-16-512 channels, 8-channel grid, 4-channel face
/// codes, and a plain target trunk with a 6-d embedding, with the key layout of the real checkpoints.
/// </summary>
internal static class TinyXcos
{
    public const int GridChannels = 8, CodeChannels = 4, TargetDims = 6, TensorSize = 3 * 112 * 112;
    public const int GridSize = GridChannels * 49, CodeSize = CodeChannels * 49;

    public static Dictionary<string, WeightTensor> Weights { get; } = Create(7);
    public static byte[] EmbeddingModel { get; } = XcosOnnxExport.BuildEmbeddingModel(Weights).ToByteArray();
    public static byte[] PairHeadModel { get; } = XcosOnnxExport.BuildPairHeadModel(Weights).ToByteArray();

    public static Dictionary<string, WeightTensor> Create(int seed)
    {
        var rng = new Random(seed);
        var w = new Dictionary<string, WeightTensor>(StringComparer.Ordinal);
        WeightTensor Rand(float center, float spread, params long[] shape)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var data = new float[n];
            for (long i = 0; i < n; i++) data[i] = center + spread * (float)(2 * rng.NextDouble() - 1);
            return new WeightTensor(data, shape);
        }
        void Conv(string p, long cout, long cin, int k, bool bias)
        {
            w[p + ".weight"] = Rand(0, (float)Math.Sqrt(6.0 / (cin * k * k)), cout, cin, k, k);
            if (bias) w[p + ".bias"] = Rand(0, 0.1f, cout);
        }
        void Bn(string p, long c)
        {
            w[p + ".weight"] = Rand(1, 0.2f, c);
            w[p + ".bias"] = Rand(0, 0.1f, c);
            w[p + ".running_mean"] = Rand(0, 0.1f, c);
            w[p + ".running_var"] = Rand(1, 0.3f, c);
        }
        void PRelu(string p, long c) => w[p + ".weight"] = Rand(0.25f, 0.05f, c);
        void Trunk(string prefix, bool se)
        {
            Conv($"{prefix}.input_layer.0", 8, 3, 3, false); Bn($"{prefix}.input_layer.1", 8); PRelu($"{prefix}.input_layer.2", 8);
            long cin = 8;
            long[] depths = [8, 12, 16, 512]; // the exporter wants 512 before conv1x1, as in every xCos backbone
            for (int i = 0; i < depths.Length; i++)
            {
                string p = $"{prefix}.body.{i}";
                long cout = depths[i];
                Bn($"{p}.res_layer.0", cin); Conv($"{p}.res_layer.1", cout, cin, 3, false); PRelu($"{p}.res_layer.2", cout);
                Conv($"{p}.res_layer.3", cout, cout, 3, false); Bn($"{p}.res_layer.4", cout);
                if (se)
                {
                    w[$"{p}.res_layer.5.fc1.weight"] = Rand(0, 0.5f, cout / 4, cout, 1, 1);
                    w[$"{p}.res_layer.5.fc2.weight"] = Rand(0, 0.5f, cout, cout / 4, 1, 1);
                }
                if (cin != cout) { Conv($"{p}.shortcut_layer.0", cout, cin, 1, false); Bn($"{p}.shortcut_layer.1", cout); }
                cin = cout;
            }
        }
        Trunk("backbone", se: true);
        Conv("backbone.conv1x1.0", GridChannels, 512, 1, true); Bn("backbone.conv1x1.1", GridChannels); PRelu("backbone.conv1x1.2", GridChannels);
        Conv("attention.embedding_net.0", CodeChannels, GridChannels, 3, true); Bn("attention.embedding_net.1", CodeChannels); PRelu("attention.embedding_net.2", 1);
        Conv("attention.attention.0", CodeChannels, 2 * CodeChannels, 3, true); Bn("attention.attention.1", CodeChannels); PRelu("attention.attention.2", 1);
        Conv("attention.attention.3", 1, CodeChannels, 3, true); Bn("attention.attention.4", 1); PRelu("attention.attention.5", 1);
        Trunk("backbone_target", se: false);
        Bn("backbone_target.output_layer.0", 512);
        w["backbone_target.output_layer.3.weight"] = Rand(0, 0.01f, TargetDims, 512 * 49);
        w["backbone_target.output_layer.3.bias"] = Rand(0, 0.1f, TargetDims);
        Bn("backbone_target.output_layer.4", TargetDims);
        return w;
    }

    /// <summary>Random face tensors in [-1, 1]; every odd one is the previous one plus small noise (a "same" pair).</summary>
    public static float[][] Faces(int count, int seed)
    {
        var rng = new Random(seed);
        var faces = new float[count][];
        for (int f = 0; f < count; f++)
        {
            faces[f] = new float[TensorSize];
            for (int i = 0; i < TensorSize; i++)
                faces[f][i] = f % 2 == 1 ? Math.Clamp(faces[f - 1][i] + 0.2f * (float)(2 * rng.NextDouble() - 1), -1, 1) : (float)(2 * rng.NextDouble() - 1);
        }
        return faces;
    }

    /// <summary>Runs a model with ONNX Runtime directly on one batch: every output by name.</summary>
    public static Dictionary<string, float[]> Run(byte[] model, params (string Name, float[] Data, long[] Shape)[] inputs)
        => OnnxModelFile.Load(model).Run(inputs.ToDictionary(i => i.Name, i => (i.Data, i.Shape))).ToDictionary(kv => kv.Key, kv => kv.Value.Data);

    public static float[] Row(float[] batch, int size, int row) => batch[(row * size)..((row + 1) * size)];

    public static void Close(float[] expected, float[] actual, float tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(max <= tol, $"{what}: max |diff| {max:E3} > {tol:E1}");
    }
}

public class XcosEmbeddingTransformTests
{
    private sealed class FaceRow
    {
        [VectorType(3, 112, 112)] public float[] FaceTensor { get; set; } = [];
    }

    private sealed class WrongRow
    {
        [VectorType(100)] public float[] FaceTensor { get; set; } = [];
        public float Scalar { get; set; }
    }

    private static float[][] Faces { get; } = TinyXcos.Faces(3, 11);

    private static IDataView Data(MLContext ml) => ml.Data.LoadFromEnumerable(Faces.Select(f => new FaceRow { FaceTensor = f }));

    private static Dictionary<string, float[]> Direct() =>
        TinyXcos.Run(TinyXcos.EmbeddingModel, ("image", Faces.SelectMany(f => f).ToArray(), [Faces.Length, 3, 112, 112]));

    private static float[][] Column(IDataView view, string name) =>
        view.GetColumn<VBuffer<float>>(name).Select(v => v.DenseValues().ToArray()).ToArray();

    [Fact]
    public void OutputsMatchOnnxRuntimeOnTheExportedModel()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var est = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { Weights = TinyXcos.Weights, TargetEmbeddingColumnName = "Target" });
        var output = est.Fit(data).Transform(data);
        var want = Direct();
        foreach (var (column, onnx, size) in new[] { ("Grid", "grid", TinyXcos.GridSize), ("Embedding", "embedding", TinyXcos.GridSize),
                     ("FaceCode", "face_code", TinyXcos.CodeSize), ("Target", "target_embedding", TinyXcos.TargetDims) })
        {
            var got = Column(output, column);
            Assert.Equal(Faces.Length, got.Length);
            for (int r = 0; r < Faces.Length; r++) TinyXcos.Close(TinyXcos.Row(want[onnx], size, r), got[r], 1e-5f, $"{column} row {r}");
        }
        // The embedding is the L2-normalised grid.
        var e = Column(output, "Embedding")[0];
        Assert.Equal(1.0, Math.Sqrt(e.Sum(v => (double)v * v)), 5);
        // Only the asked-for columns: no copies or leftovers.
        Assert.Equal(["FaceTensor", "Grid", "Embedding", "FaceCode", "Target"], output.Schema.Select(c => c.Name).ToArray());
        Assert.Equal(TinyXcos.GridSize, ((VectorDataViewType)output.Schema["Grid"].Type).Size);
    }

    [Fact]
    public void Int8PrecisionQuantizesTheModel_AndKeepsTheEmbeddings()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var est = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions
        {
            ModelBytes = TinyXcos.EmbeddingModel, FaceCodeColumnName = null,
            Precision = FaceModels.OnnxPrecision.Int8, CalibrationFaces = FaceModels.FaceModelQuantizer.SyntheticFaces(8)
        });
        var adapted = OnnxModelFile.Load(est.GetAdaptedModel());
        Assert.True(OnnxQuantizer.IsQuantized(adapted.Model));
        Assert.Contains("8 faces given", adapted.Model.MetadataProps.Single(p => p.Key == OnnxQuantizer.CalibrationKey).Value);
        var got = Column(est.Fit(data).Transform(data), "Embedding");
        var want = Direct()["embedding"];
        for (int r = 0; r < Faces.Length; r++)
        {
            var w = TinyXcos.Row(want, TinyXcos.GridSize, r);
            double cos = w.Zip(got[r]).Sum(t => (double)t.First * t.Second);  // both L2-normalised
            Assert.True(cos > 0.98, $"row {r}: cosine fp32 vs int8 {cos}");
        }
    }

    [Fact]
    public void AdaptedModelKeepsOnlyWhatTheColumnsNeed()
    {
        var ml = new MLContext(seed: 1);
        var full = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel, TargetEmbeddingColumnName = "Target" });
        var lean = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel, FaceCodeColumnName = null });
        var fullModel = OnnxModelFile.Load(full.GetAdaptedModel());
        var leanModel = OnnxModelFile.Load(lean.GetAdaptedModel());
        Assert.Contains(fullModel.Graph.Initializer, t => t.Name.StartsWith("backbone_target.", StringComparison.Ordinal));
        Assert.DoesNotContain(leanModel.Graph.Initializer, t => t.Name.StartsWith("backbone_target.", StringComparison.Ordinal));
        Assert.DoesNotContain(leanModel.Graph.Initializer, t => t.Name.StartsWith("attention.", StringComparison.Ordinal));
        Assert.Equal(["FaceTensor"], leanModel.InputNames);
        Assert.Equal(["Grid", "Embedding"], leanModel.OutputNames);
        // The column is one row's tensor: the input has no batch dimension (a Reshape inside adds the batch of 1).
        Assert.Equal([3, 112, 112], leanModel.Graph.Input[0].Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        Assert.True(lean.GetAdaptedModel().Length < full.GetAdaptedModel().Length / 2 + 4096);
    }

    [Fact]
    public void ModelWithoutFaceCodeLeavesThatColumnOut()
    {
        var ml = new MLContext(seed: 1);
        var bytes = XcosOnnxExport.BuildEmbeddingModel(TinyXcos.Weights, new XcosOnnxExportOptions { IncludeFaceCode = false, IncludeTargetEmbedding = false }).ToByteArray();
        var path = Path.Combine(Path.GetTempPath(), $"xcos_emb_{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            var data = Data(ml);
            var est = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelPath = path, InputColumnName = "FaceTensor", TargetEmbeddingColumnName = "T" });
            Assert.Equal(["Grid", "Embedding"], est.OutputColumnNames);
            var output = est.Fit(data).Transform(data);
            Assert.Null(output.Schema.GetColumnOrNull("FaceCode"));
            TinyXcos.Close(TinyXcos.Row(Direct()["grid"], TinyXcos.GridSize, 2), Column(output, "Grid")[2], 1e-5f, "grid");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void SurvivesSaveAndLoad()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var options = new XcosEmbeddingOptions { Weights = TinyXcos.Weights }.ForFace("1");
        options.InputColumnName = "FaceTensor";
        var model = ml.Transforms.XcosEmbedding(options).Fit(data);
        var before = Column(model.Transform(data), "Grid1");
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var ml2 = new MLContext(seed: 2);
        var loaded = ml2.Model.Load(stream, out _);
        var after = Column(loaded.Transform(Data(ml2)), "Grid1");
        for (int r = 0; r < before.Length; r++) Assert.Equal(before[r], after[r]);
        Assert.NotNull(loaded.GetOutputSchema(data.Schema).GetColumnOrNull("FaceCode1"));
    }

    [Fact]
    public void WrongInputColumnsAreNamedInTheError()
    {
        var ml = new MLContext(seed: 1);
        var wrong = ml.Data.LoadFromEnumerable(new[] { new WrongRow { FaceTensor = new float[100] } });
        var est = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel });
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => est.Fit(wrong));
        Assert.Contains("'FaceTensor'", e1.Message);
        Assert.Contains("Vector<Single, 100>", e1.Message);
        Assert.Contains("37632 Single", e1.Message);

        var scalar = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel, InputColumnName = "Scalar" });
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => scalar.Fit(wrong));
        Assert.Contains("'Scalar' has type Single", e2.Message);

        var missing = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel, InputColumnName = "Face" });
        Assert.Contains("'Face' not found", Assert.Throws<ArgumentOutOfRangeException>(() => missing.Fit(wrong)).Message);
    }

    [Fact]
    public void BadOptionsFailAtConstruction()
    {
        var ml = new MLContext(seed: 1);
        Assert.Contains("exactly one", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions())).Message);
        Assert.Contains("exactly one", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(
            new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel, Weights = TinyXcos.Weights })).Message);
        Assert.Contains("'Grid' is used twice", Assert.Throws<ArgumentException>(() => ml.Transforms.XcosEmbedding(
            new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel, EmbeddingColumnName = "Grid" })).Message);
        // The pair head is not an embedding model.
        Assert.Contains("no input 'image'", Assert.Throws<InvalidDataException>(() => ml.Transforms.XcosEmbedding(
            new XcosEmbeddingOptions { ModelBytes = TinyXcos.PairHeadModel })).Message);
        var corrupt = new byte[] { 1, 2, 3, 4, 5 };
        Assert.ThrowsAny<Exception>(() => ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelBytes = corrupt }));
    }
}
