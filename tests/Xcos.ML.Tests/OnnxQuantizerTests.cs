using Google.Protobuf;
using Xcos.ML.Data.Synthetic;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;
using DataType = Xcos.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace Xcos.ML.Tests;

public class OnnxQuantizerTests(ITestOutputHelper output)
{
    private static readonly FaceTensorOptions Tensor = new();

    private static IReadOnlyList<RgbImage> SyntheticFaces(int first, int count)
    {
        var gen = new SyntheticFaces(new SyntheticFacesOptions { Identities = 64, ImageSize = 112 });
        return Enumerable.Range(first, count).Select(i => gen.Generate(i % 64, i / 64)).Select(f => new RgbImage(f.Size, f.Size, f.Rgb)).ToList();
    }

    private static float Cosine(float[] a, float[] b)
    {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return (float)(d / Math.Sqrt(na * nb));
    }

    [Fact]
    public void ExportedBackbone_BecomesQdq_KeepsNamesAndEmbeddings()
    {
        var calibration = SyntheticFaces(0, 12);
        var result = OnnxQuantizer.Quantize(ModelProto.Parser.ParseFrom(TinyXcos.EmbeddingModel),
            FaceModelQuantizer.Feeds(calibration, XcosOnnxExport.ImageInput, Tensor),
            new OnnxQuantizerOptions { CalibrationDescription = "synthetic faces 0-11" });
        var q = OnnxModelFile.FromModel(result.Model);
        var fp = OnnxModelFile.Load(TinyXcos.EmbeddingModel);
        Assert.Equal(fp.InputNames, q.InputNames);
        Assert.Equal(fp.OutputNames, q.OutputNames);
        // Every Conv but the one that makes the grid output is quantized.
        int convs = fp.Graph.Node.Count(n => n.OpType == "Conv");
        Assert.Equal(convs - 1, result.QuantizedNodes.Count(n => n.Contains("Conv", StringComparison.Ordinal)));
        // Every Conv weight is an int8 initializer read through a per-channel DequantizeLinear; no float conv weight is left.
        foreach (var conv in q.Graph.Node.Where(n => n.OpType == "Conv" && result.QuantizedNodes.Contains(n.Name)))
        {
            var dq = q.Graph.Node.Single(n => n.Output.Contains(conv.Input[1]));
            Assert.Equal("DequantizeLinear", dq.OpType);
            Assert.Equal(DataType.Int8, (DataType)q.Graph.Initializer.Single(t => t.Name == dq.Input[0]).DataType);
            Assert.Equal(0, dq.Attribute.Single(a => a.Name == "axis").I);
        }
        var meta = result.Model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("12 samples in 3 batches: synthetic faces 0-11", meta[OnnxQuantizer.CalibrationKey]);
        Assert.Contains("per output channel", meta[OnnxQuantizer.QuantizationKey]);
        Assert.True(OnnxQuantizer.IsQuantized(result.Model));
        Assert.True(result.Model.ToByteArray().Length < TinyXcos.EmbeddingModel.Length / 2);

        var heldOut = FaceModelQuantizer.Feeds(SyntheticFaces(100, 8), XcosOnnxExport.ImageInput, Tensor, 8)[0];
        var e32 = fp.Run(heldOut, XcosOnnxExport.GridOutput)[XcosOnnxExport.GridOutput];
        var e8 = q.Run(heldOut, XcosOnnxExport.GridOutput)[XcosOnnxExport.GridOutput];
        int d = e32.Data.Length / 8;
        var cos = Enumerable.Range(0, 8).Select(i => Cosine(e32.Data[(i * d)..((i + 1) * d)], e8.Data[(i * d)..((i + 1) * d)])).ToList();
        output.WriteLine($"tiny IR-SE grid cosine fp32 vs int8: mean {cos.Average():F5} min {cos.Min():F5}");
        Assert.True(cos.Min() > 0.98, $"min cosine {cos.Min()}");
    }

    [Fact]
    public void Profile_ShowsIntegerConvolutionKernels()
    {
        var feeds = FaceModelQuantizer.Feeds(SyntheticFaces(0, 4), XcosOnnxExport.ImageInput, Tensor);
        var q = OnnxQuantizer.Quantize(ModelProto.Parser.ParseFrom(TinyXcos.EmbeddingModel), feeds).Model;
        var ops = OnnxRuntimeProfile.OpTypes(q.ToByteArray(), feeds.Take(1).ToList(), intraOpThreads: 1);
        output.WriteLine(string.Join("\n", ops.Select(o => $"{o.OpType} x{o.Count} {o.Microseconds} us")));
        int quantized = q.Graph.Node.Count(n => n.OpType == "Conv" && n.Input[1].EndsWith("_dequantized", StringComparison.Ordinal));
        Assert.Equal(quantized, ops.Where(o => o.OpType == "QLinearConv").Sum(o => o.Count));
        Assert.Equal(q.Graph.Node.Count(n => n.OpType == "Conv") - quantized, ops.Where(o => o.OpType is "Conv" or "FusedConv").Sum(o => o.Count));
        var fp = OnnxRuntimeProfile.OpTypes(TinyXcos.EmbeddingModel, feeds.Take(1).ToList(), intraOpThreads: 1);
        Assert.DoesNotContain(fp, o => o.OpType == "QLinearConv");
    }

    private static ModelProto Identity(out string input)
    {
        var b = new OnnxGraphBuilder();
        input = b.AddInput("x", [-1, 4]);
        var w = b.Initializer("w", [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], [4, 4]);
        b.AddOutput(b.MatMul(b.Relu(b.MatMul(input, w, "mm"), "r"), w, "mm2"), "y", [-1, 4]);
        return b.Build();
    }

    [Fact]
    public void Calibrator_PercentileClipsOutliers_MinMaxKeepsThem()
    {
        var model = Identity(out var x);
        var data = Enumerable.Range(0, 4000).Select(i => i == 17 ? 1000f : i % 100 / 10f).ToArray();  // 0..9.9 and one outlier
        var feeds = new[] { (IReadOnlyDictionary<string, (float[], long[])>)new Dictionary<string, (float[], long[])> { [x] = (data, [1000, 4]) } };
        var minmax = ActivationCalibrator.Ranges(model, ["x", "mm", "y"], feeds, new OnnxQuantizerOptions { Method = CalibrationMethod.MinMax });
        Assert.Equal((0f, 1000f), minmax["x"]);
        Assert.Equal((0f, 1000f), minmax["mm"]);
        Assert.Equal((0f, 1000f), minmax["y"]);
        var pct = ActivationCalibrator.Ranges(model, ["x", "mm"], feeds, new OnnxQuantizerOptions { Percentile = 99.9, HistogramBins = 10000 });
        Assert.Equal(0f, pct["mm"].Low);
        Assert.InRange(pct["mm"].High, 9.9f, 10.1f);
        Assert.Equal(pct["x"], pct["mm"]);
    }

    [Fact]
    public void MatMulModel_RoundTripsWithinOneStep()
    {
        var model = Identity(out var x);
        var data = Enumerable.Range(0, 400).Select(i => i % 50 / 5f).ToArray();  // 0..9.8
        var feeds = new[] { (IReadOnlyDictionary<string, (float[], long[])>)new Dictionary<string, (float[], long[])> { [x] = (data, [100, 4]) } };
        var result = OnnxQuantizer.Quantize(model, feeds, new OnnxQuantizerOptions { Method = CalibrationMethod.MinMax });
        var a = result.Activations.Single(v => v.Name == "x");
        Assert.Equal(9.8f / 255, a.Scale, 6);
        Assert.Equal(0, a.ZeroPoint);
        // The first MatMul's input and output are quantized; the last one, which makes the graph output, stays float.
        Assert.Equal(["x", "mm"], result.Activations.Select(v => v.Name).ToArray());
        Assert.Equal(["node_MatMul"], result.QuantizedNodes);
        var y = OnnxModelFile.FromModel(result.Model).Run(feeds[0])["y"].Data;
        for (int i = 0; i < data.Length; i++) Assert.True(Math.Abs(y[i] - data[i]) <= a.Scale / 2 + 1e-5, $"value {i}: {y[i]} vs {data[i]}");
    }

    /// <summary>Conv → PRelu → Conv → PRelu → Conv (the last stays float) on [N,4,8,8], slopes per channel of both signs.</summary>
    private static ModelProto ConvPRelu(out string input)
    {
        var rng = new Random(3);
        float[] Random(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
        var b = new OnnxGraphBuilder();
        input = b.AddInput("x", [-1, 4, 8, 8]);
        string h = b.Conv(input, b.Initializer("w1", Random(8 * 4 * 9, 0.5f), [8, 4, 3, 3]), b.Initializer("b1", Random(8, 0.2f), [8]), pad: 1);
        h = b.PRelu(h, b.Initializer("a1", [0.25f, 0.1f, 0.0f, 0.5f, -0.2f, 0.9f, 0.05f, 0.3f], [8, 1, 1]));
        h = b.Conv(h, b.Initializer("w2", Random(8 * 8 * 9, 0.3f), [8, 8, 3, 3]), null, pad: 1);
        h = b.PRelu(h, b.Initializer("a2", [0.2f], [1]));
        h = b.Conv(h, b.Initializer("w3", Random(2 * 8, 0.5f), [2, 8, 1, 1]), null);
        b.AddOutput(h, "y", [-1, 2, 8, 8]);
        return b.Build();
    }

    [Fact]
    public void PRelu_QuantizedBothWays_AgreesWithFloat_AndRunsInIntegerKernels()
    {
        var model = ConvPRelu(out var x);
        var rng = new Random(7);
        IReadOnlyDictionary<string, (float[], long[])> Batch(int n) => new Dictionary<string, (float[], long[])>
        {
            [x] = (Enumerable.Range(0, n * 4 * 64).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), [n, 4, 8, 8]),
        };
        var feeds = Enumerable.Range(0, 4).Select(_ => Batch(8)).ToList();
        var heldOut = Batch(16);
        var integer = OnnxQuantizer.Quantize(model, feeds, new OnnxQuantizerOptions { Method = CalibrationMethod.MinMax });
        var floatPRelu = OnnxQuantizer.Quantize(model, feeds, new OnnxQuantizerOptions { Method = CalibrationMethod.MinMax, IntegerPRelu = false });
        var y32 = OnnxModelFile.FromModel(model).Run(heldOut)["y"].Data;
        var yInt = OnnxModelFile.FromModel(integer.Model).Run(heldOut)["y"].Data;
        var yFloat = OnnxModelFile.FromModel(floatPRelu.Model).Run(heldOut)["y"].Data;
        double range = y32.Max() - y32.Min();
        double worstInt = y32.Zip(yInt).Max(t => Math.Abs(t.First - t.Second)), worstFloat = y32.Zip(yFloat).Max(t => Math.Abs(t.First - t.Second));
        output.WriteLine($"output range {range:F3}; max |fp32 - int8|: integer PRelu {worstInt:F4}, float PRelu {worstFloat:F4}; cosine {Cosine(y32, yInt):F5} / {Cosine(y32, yFloat):F5}");
        // The integer form adds roundings per PRelu (Relu(x), Relu(-x), the product and the sum are each 8 bits).
        Assert.True(Cosine(y32, yInt) > 0.999, $"integer PRelu cosine {Cosine(y32, yInt)}");
        Assert.True(Cosine(y32, yFloat) > 0.999, $"float PRelu cosine {Cosine(y32, yFloat)}");
        Assert.True(worstInt <= 0.05 * range, $"integer PRelu differs by {worstInt} of a range of {range}");
        Assert.Contains("2 PRelu as integer Relu(x) + (-slope)·Relu(-x)", integer.Model.MetadataProps.Single(p => p.Key == OnnxQuantizer.QuantizationKey).Value);
        Assert.DoesNotContain("PRelu as integer", floatPRelu.Model.MetadataProps.Single(p => p.Key == OnnxQuantizer.QuantizationKey).Value);

        // What ONNX Runtime runs: no float PRelu is left; each one is a QLinearLeakyRelu, two products and a QLinearAdd. The
        // products by per-channel slopes are 1x1 depthwise QLinearConv; by the one shared slope, QLinearMul.
        var ops = OnnxRuntimeProfile.OpTypes(integer.Model.ToByteArray(), [heldOut], intraOpThreads: 1).ToDictionary(o => o.OpType, o => o.Count);
        output.WriteLine(string.Join(", ", ops.Select(o => $"{o.Key} x{o.Value}")));
        Assert.False(ops.ContainsKey("PRelu"));
        Assert.Equal(2 + 2, ops["QLinearConv"]);
        Assert.Equal(2, ops["QLinearLeakyRelu"]);
        Assert.Equal(2, ops["QLinearMul"]);
        Assert.Equal(2, ops["QLinearAdd"]);
        var old = OnnxRuntimeProfile.OpTypes(floatPRelu.Model.ToByteArray(), [heldOut], intraOpThreads: 1).ToDictionary(o => o.OpType, o => o.Count);
        Assert.Equal(2, old["PRelu"]);
        Assert.False(old.ContainsKey("QLinearMul"));
        Assert.Equal(2, old["QLinearConv"]);
    }

    [Fact]
    public void BadInputs_GiveClearErrors()
    {
        var model = Identity(out var x);
        var feeds = new[] { (IReadOnlyDictionary<string, (float[], long[])>)new Dictionary<string, (float[], long[])> { [x] = (new float[8], [2, 4]) } };
        var q = OnnxQuantizer.Quantize(model, feeds).Model;
        Assert.Contains("already quantized", Assert.Throws<NotSupportedException>(() => OnnxQuantizer.Quantize(q, feeds)).Message);
        Assert.Throws<ArgumentException>(() => OnnxQuantizer.Quantize(model, []));
        var b = new OnnxGraphBuilder();
        b.AddOutput(b.MatMul(b.AddInput("x", [-1, 4]), b.Initializer("w", new float[16], [4, 4])), "y", [-1, 4]);
        Assert.Contains("no Conv, Gemm or MatMul", Assert.Throws<InvalidDataException>(() => OnnxQuantizer.Quantize(b.Build(), feeds)).Message);
        var old = model.Clone();
        old.OpsetImport[0].Version = 11;
        old.Graph.Node.Add(new NodeProto { OpType = "Squeeze", Input = { "y" }, Output = { "z" } });
        Assert.Contains("Squeeze", Assert.Throws<NotSupportedException>(() => OnnxQuantizer.Quantize(old, feeds)).Message);
    }
}

/// <summary>
/// fr_feature quantized once for the real-model tests: dev-faces photos aligned by the detector; the first 3 photos
/// of each of the 10 people calibrate, the other 70 are held out.
/// </summary>
public sealed class RealInt8Model : IDisposable
{
    public RealInt8Model()
    {
        Models = RealFaces.ModelsDir();
        if (Models is null) return;
        string root = DevFaces.Root;
        using var detector = FaceDetector.FromDirectory(Models, new FaceDetectorOptions { IntraOpThreads = 2 });
        foreach (var file in Directory.GetFiles(Path.Combine(root, "photos"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var face = detector.DetectAndAlign(ImageIO.Load(file)).Face;
            if (face is not null) Faces[Path.GetRelativePath(root, file).Replace('\\', '/')] = face;
        }
        Calibration = Faces.Keys.GroupBy(k => k.Split('/')[1]).SelectMany(g => g.Take(3)).ToHashSet(StringComparer.Ordinal);
        Descriptor = FaceModelDescriptor.Load(FaceModelDescriptor.ShippedPath());
        Dir = Directory.CreateTempSubdirectory("xcos_int8_").FullName;
        string fp32 = Path.Combine(Models, Descriptor.OnnxFile);
        Result = FaceModelQuantizer.Quantize(Descriptor, fp32, Calibration.Select(k => Faces[k]).ToList(), "dev-faces: first 3 photos of each person");
        Int8Path = Path.Combine(Dir, "fr_feature.int8.onnx");
        File.WriteAllBytes(Int8Path, Result.Model.ToByteArray());
        Float = new OnnxFaceEmbedder(Descriptor, fp32, 2);
        Int8 = new OnnxFaceEmbedder(Descriptor, Int8Path, 2);
        var keys = Faces.Keys.ToList();
        var faces = keys.Select(k => Faces[k]).ToList();
        var f = Float.Embed(faces);
        var q = Int8.Embed(faces);
        for (int i = 0; i < keys.Count; i++) { FloatEmbeddings[keys[i]] = f[i]; Int8Embeddings[keys[i]] = q[i]; }
    }

    public string? Models { get; }
    public string Dir { get; } = "";
    public Dictionary<string, RgbImage> Faces { get; } = new(StringComparer.Ordinal);
    public HashSet<string> Calibration { get; } = [];
    public FaceModelDescriptor Descriptor { get; } = new();
    public QuantizationResult? Result { get; }
    public string Int8Path { get; } = "";
    public OnnxFaceEmbedder? Float { get; }
    public OnnxFaceEmbedder? Int8 { get; }
    public Dictionary<string, FaceEmbedding> FloatEmbeddings { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, FaceEmbedding> Int8Embeddings { get; } = new(StringComparer.Ordinal);

    public void Dispose()
    {
        Float?.Dispose();
        Int8?.Dispose();
        if (Dir.Length > 0) try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}

public class RealInt8Tests(RealInt8Model m, ITestOutputHelper output) : IClassFixture<RealInt8Model>
{
    private static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return (float)(d / Math.Sqrt(na * nb));
    }

    [RealModelsFact]
    public void FrFeature_Int8_KeepsEmbeddingsAndAuc()
    {
        Assert.True(m.Faces.Count >= 95, $"only {m.Faces.Count} of 100 dev-faces photos gave a face");
        var heldOut = m.Faces.Keys.Where(k => !m.Calibration.Contains(k)).ToList();
        var cos = heldOut.Select(k => Cosine(m.FloatEmbeddings[k].Embedding, m.Int8Embeddings[k].Embedding)).ToList();
        var pairs = File.ReadAllLines(Path.Combine(DevFaces.Root, "pairs.tsv")).Skip(1).Select(l => l.Split('\t'))
            .Where(p => m.Faces.ContainsKey(p[0]) && m.Faces.ContainsKey(p[1])).ToList();
        double Auc(Dictionary<string, FaceEmbedding> e, IEnumerable<string[]> ps)
        {
            var list = ps.ToList();
            return Metrics.VerificationMetrics.Auc(list.Select(p => Cosine(e[p[0]].Embedding, e[p[1]].Embedding)).ToArray(), list.Select(p => p[2] == "1").ToArray());
        }
        var heldPairs = pairs.Where(p => !m.Calibration.Contains(p[0]) && !m.Calibration.Contains(p[1])).ToList();
        double auc32 = Auc(m.FloatEmbeddings, pairs), auc8 = Auc(m.Int8Embeddings, pairs);
        double held32 = Auc(m.FloatEmbeddings, heldPairs), held8 = Auc(m.Int8Embeddings, heldPairs);
        // xCos maps: the weight-derived cell cosines of each held-out same/different pair, fp32 head on the fp32 map vs int8 map.
        var head = WeightDerivedHead.Extract(m.Float!.Model, m.Float.FeatureMapName, m.Float.EmbeddingName);
        var xcos = new WeightDerivedXcos(head, null, new WeightDerivedXcosOptions { Centre = false });
        double worstMap = 0, worstXcos = 0, sumMap = 0;
        foreach (var p in heldPairs)
        {
            var a = xcos.Explain(m.FloatEmbeddings[p[0]].FeatureMap, m.FloatEmbeddings[p[1]].FeatureMap);
            var b = xcos.Explain(m.Int8Embeddings[p[0]].FeatureMap, m.Int8Embeddings[p[1]].FeatureMap);
            worstMap = Math.Max(worstMap, a.CosMap.Zip(b.CosMap).Max(t => Math.Abs(t.First - t.Second)));
            sumMap += a.CosMap.Zip(b.CosMap).Average(t => Math.Abs(t.First - t.Second));
            worstXcos = Math.Max(worstXcos, Math.Abs(a.Xcos - b.Xcos));
        }
        output.WriteLine($"faces {m.Faces.Count}, calibration {m.Calibration.Count}, held out {heldOut.Count}; nodes quantized {m.Result!.QuantizedNodes.Count}");
        output.WriteLine($"cosine fp32 vs int8 on held-out faces: mean {cos.Average():F5}, min {cos.Min():F5}");
        output.WriteLine($"AUC all {pairs.Count} pairs: fp32 {auc32:F5} int8 {auc8:F5}; held-out {heldPairs.Count} pairs: fp32 {held32:F5} int8 {held8:F5}");
        output.WriteLine($"xCos held-out pairs: mean |cell cosine diff| {sumMap / heldPairs.Count:F4}, max {worstMap:F4}; max |xCos diff| {worstXcos:F4}");
        Assert.True(cos.Average() >= 0.995, $"mean cosine {cos.Average()}");
        Assert.True(Math.Abs(auc32 - auc8) <= 0.002, $"AUC fp32 {auc32} int8 {auc8}");
        Assert.True(Math.Abs(held32 - held8) <= 0.002, $"held-out AUC fp32 {held32} int8 {held8}");
        // Tolerances of the xCos maps: a 7x7 cell cosine moves by at most 0.2 (0.153 measured), 0.01 on average (0.005 measured); xCos by 0.02 (0.005 measured).
        Assert.True(worstMap <= 0.2, $"cell cosine differs by {worstMap}");
        Assert.True(sumMap / heldPairs.Count <= 0.01, $"cell cosines differ by {sumMap / heldPairs.Count} on average");
        Assert.True(worstXcos <= 0.02, $"xCos differs by {worstXcos}");
        Assert.StartsWith("30 samples in 30 batches: dev-faces", m.Result.Model.MetadataProps.Single(p => p.Key == OnnxQuantizer.CalibrationKey).Value);
    }

    [RealModelsFact]
    public void FrFeature_Int8_KeepsAucOnHeldOutSyntheticIdentities()
    {
        // 60 synthetic identities, none seen in calibration, two images each: image 0 of every identity against image 1 of
        // every identity (60 same pairs, 3,540 different), enough pairs that one swapped pair moves the AUC by < 0.0003.
        const int ids = 60;
        var gen = new SyntheticFaces(new SyntheticFacesOptions { Identities = ids, ImageSize = 112, Seed = 5 });
        var faces = Enumerable.Range(0, ids).SelectMany(i => new[] { gen.Generate(i, 0), gen.Generate(i, 1) })
            .Select(f => new RgbImage(f.Size, f.Size, f.Rgb)).ToList();
        var f32 = m.Float!.Embed(faces);
        var q8 = m.Int8!.Embed(faces);
        var pairs = Enumerable.Range(0, ids).SelectMany(i => Enumerable.Range(0, ids).Select(j => (A: 2 * i, B: 2 * j + 1, Same: i == j))).ToList();
        var same = pairs.Select(p => p.Same).ToArray();
        float[] Scores(IReadOnlyList<FaceEmbedding> e) => pairs.Select(p => Cosine(e[p.A].Embedding, e[p.B].Embedding)).ToArray();
        double auc32 = Metrics.VerificationMetrics.Auc(Scores(f32), same), auc8 = Metrics.VerificationMetrics.Auc(Scores(q8), same);
        output.WriteLine($"synthetic held-out identities ({ids} same + {ids * (ids - 1)} different pairs): AUC fp32 {auc32:F5} int8 {auc8:F5}");
        Assert.True(Math.Abs(auc32 - auc8) <= 0.002, $"AUC fp32 {auc32} int8 {auc8}");
    }

    [RealModelsFact]
    public void FrFeature_Int8_RunsIntegerConvolutions()
    {
        var feed = FaceModelQuantizer.Feeds([m.Faces.Values.First()], m.Int8!.InputName, m.Descriptor.TensorOptions());
        var ops = OnnxRuntimeProfile.OpTypes(File.ReadAllBytes(m.Int8Path), feed, intraOpThreads: 1);
        output.WriteLine(string.Join("\n", ops.Select(o => $"{o.OpType} x{o.Count} {o.Microseconds} us")));
        // Every convolution quantized (all but the depthwise ones and the embedding layer) runs as one QLinearConv, and so
        // does each product of an integer PRelu (a 1x1 depthwise convolution by the slopes or their complements).
        int quantizedConvs = m.Result!.QuantizedNodes.Count(n => n.StartsWith("Conv", StringComparison.Ordinal));
        var int8Graph = m.Result.Model.Graph;
        int preluProducts = int8Graph.Node.Count(n => n.OpType == "Conv" && n.Name.Contains("_prelu_", StringComparison.Ordinal));
        Assert.Equal(quantizedConvs + preluProducts, ops.Where(o => o.OpType == "QLinearConv").Sum(o => o.Count));
        // Face models keep PRelu in float by default (FaceModelQuantizer): every PRelu of the graph runs as one.
        Assert.Equal(0, int8Graph.Node.Count(n => n.OpType == "LeakyRelu"));
        Assert.Equal(int8Graph.Node.Count(n => n.OpType == "PRelu"), ops.Where(o => o.OpType == "PRelu").Sum(o => o.Count));
        // The float convolutions left are the 17 depthwise ones, the embedding layer and what the cosine target left in float.
        int totalConvs = OnnxModelFile.Load(Path.Combine(m.Models!, m.Descriptor.OnnxFile)).Graph.Node.Count(n => n.OpType == "Conv");
        Assert.True(quantizedConvs >= 28, $"only {quantizedConvs} of {totalConvs} convolutions quantized");
        Assert.Equal(totalConvs - quantizedConvs, ops.Where(o => o.OpType is "Conv" or "FusedConv").Sum(o => o.Count));
    }

    [RealModelsFact]
    public void FrFeature_Int8_IntegerPRelu_KeepsDevFaces_AndRunsIntegerKernels()
    {
        var options = new OnnxQuantizerOptions { TargetCosine = FaceModelQuantizer.DefaultTargetCosine, IntegerPRelu = true };
        var result = FaceModelQuantizer.Quantize(m.Descriptor, Path.Combine(m.Models!, m.Descriptor.OnnxFile), m.Calibration.Select(k => m.Faces[k]).ToList(),
            "dev-faces: first 3 photos of each person", options);
        string path = Path.Combine(m.Dir, "fr_feature.integer-prelu.onnx");
        File.WriteAllBytes(path, result.Model.ToByteArray());
        using var int8 = new OnnxFaceEmbedder(m.Descriptor, path, 2);
        var keys = m.Faces.Keys.ToList();
        var e = int8.Embed(keys.Select(k => m.Faces[k]).ToList());
        var emb = keys.Select((k, i) => (k, e[i])).ToDictionary(t => t.k, t => t.Item2, StringComparer.Ordinal);
        var cos = keys.Where(k => !m.Calibration.Contains(k)).Select(k => Cosine(m.FloatEmbeddings[k].Embedding, emb[k].Embedding)).ToList();
        var pairs = File.ReadAllLines(Path.Combine(DevFaces.Root, "pairs.tsv")).Skip(1).Select(l => l.Split('\t'))
            .Where(p => m.Faces.ContainsKey(p[0]) && m.Faces.ContainsKey(p[1])).ToList();
        double Auc(Dictionary<string, FaceEmbedding> x) => Metrics.VerificationMetrics.Auc(
            pairs.Select(p => Cosine(x[p[0]].Embedding, x[p[1]].Embedding)).ToArray(), pairs.Select(p => p[2] == "1").ToArray());
        double auc32 = Auc(m.FloatEmbeddings), auc8 = Auc(emb);
        output.WriteLine($"integer PRelu: {result.QuantizedNodes.Count} nodes quantized; held-out cosine mean {cos.Average():F5} min {cos.Min():F5}; AUC {pairs.Count} pairs fp32 {auc32:F5} int8 {auc8:F5}");
        Assert.True(cos.Average() >= 0.995, $"mean cosine {cos.Average()}");
        Assert.True(Math.Abs(auc32 - auc8) <= 0.002, $"AUC fp32 {auc32} int8 {auc8}");

        var feed = FaceModelQuantizer.Feeds([m.Faces.Values.First()], int8.InputName, m.Descriptor.TensorOptions());
        var ops = OnnxRuntimeProfile.OpTypes(File.ReadAllBytes(path), feed, intraOpThreads: 1);
        output.WriteLine(string.Join("\n", ops.Select(o => $"{o.OpType} x{o.Count} {o.Microseconds} us")));
        var g = result.Model.Graph;
        // A PRelu next to a quantized convolution runs in integer kernels: the one after each expansion convolution; the
        // one after a float depthwise convolution stays float (quantizing its input would make ONNX Runtime quantize the
        // depthwise weights itself).
        int integerPRelus = g.Node.Count(n => n.OpType == "LeakyRelu");
        Assert.True(integerPRelus >= 10, $"only {integerPRelus} integer PRelu");
        Assert.Equal(integerPRelus, ops.Where(o => o.OpType == "QLinearLeakyRelu").Sum(o => o.Count));
        Assert.Equal(g.Node.Count(n => n.OpType == "PRelu"), ops.Where(o => o.OpType == "PRelu").Sum(o => o.Count));
        int quantizedConvs = result.QuantizedNodes.Count(n => n.StartsWith("Conv", StringComparison.Ordinal));
        int preluProducts = g.Node.Count(n => n.OpType == "Conv" && n.Name.Contains("_prelu_", StringComparison.Ordinal));
        Assert.Equal(quantizedConvs + preluProducts, ops.Where(o => o.OpType == "QLinearConv").Sum(o => o.Count));
    }
}
