using Google.Protobuf;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.FaceModels;
using Xcos.ML.Torch.Networks;
using Xcos.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>fr_feature.onnx's weights in the TorchSharp MobileFaceNet: parity with ONNX Runtime, and again after the exporter.</summary>
public class OnnxMobileFaceNetImportTests(ITestOutputHelper output)
{
    // six dev-faces photos aligned by the project's detector and aligner
    private static List<RgbImage> Crops(string models)
    {
        using var detector = FaceDetector.FromDirectory(models, new FaceDetectorOptions { IntraOpThreads = 2 });
        var photos = Directory.GetFiles(Path.Combine(DevFaces.Root, "photos"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 17 == 0).Take(6);
        return photos.Select(p => detector.DetectAndAlign(ImageIO.Load(p)).Face).OfType<RgbImage>().ToList();
    }

    private static float MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    [DevFacesFact]
    public void Imported_network_matches_onnx_runtime_and_its_export()
    {
        TorchRuntime.Configure(2, "cpu");
        string models = RealFaces.ModelsDir()!;
        var descriptor = FaceModelDescriptor.FrFeature();
        string onnx = Path.Combine(models, descriptor.OnnxFile);
        var faces = Crops(models);
        Assert.True(faces.Count >= 4, $"only {faces.Count} faces found");
        using var ort = new OnnxFaceEmbedder(descriptor, onnx, 2);
        var reference = ort.Embed(faces);

        using var net = new MobileFaceNet();
        OnnxMobileFaceNetImport.Load(net, onnx);
        net.eval();
        var opts = descriptor.TensorOptions();
        var input = faces.SelectMany(f => FaceTensor.ToChw(f, opts)).ToArray();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = tensor(input, [faces.Count, 3, 112, 112]);
        var map = net.Features(x).contiguous().data<float>().ToArray();
        var raw = net.EmbeddingHead(net.Features(x)).contiguous().data<float>().ToArray();
        int md = map.Length / faces.Count, ed = raw.Length / faces.Count;
        float mapDiff = 0, embDiff = 0;
        for (int i = 0; i < faces.Count; i++)
        {
            mapDiff = Math.Max(mapDiff, MaxDiff(map.AsSpan(i * md, md), reference[i].FeatureMap));
            embDiff = Math.Max(embDiff, MaxDiff(raw.AsSpan(i * ed, ed), reference[i].Embedding));
        }
        output.WriteLine($"{faces.Count} faces: max |map - ORT| {mapDiff:G3}, max |embedding - ORT| {embDiff:G3}");
        Assert.True(mapDiff <= 1e-4, $"feature map differs from ONNX Runtime by {mapDiff}");
        Assert.True(embDiff <= 1e-4, $"embedding differs from ONNX Runtime by {embDiff}");

        // back to ONNX through the project's exporter: the network as the target backbone of an xCos embedding model
        var weights = TorchOnnxExport.ToWeights(net.state_dict().Select(kv => new KeyValuePair<string, Tensor>("backbone_target." + kv.Key, kv.Value))
            .Concat(net.state_dict().Select(kv => new KeyValuePair<string, Tensor>("backbone." + kv.Key, kv.Value))));
        using (var grid = new MobileFaceNet(grid: true))
            foreach (var kv in TorchOnnxExport.ToWeights(grid.state_dict().Where(kv => kv.Key.StartsWith("conv1x1.", StringComparison.Ordinal))))
                weights["backbone." + kv.Key] = kv.Value;
        var exported = OnnxModelFile.Load(XcosOnnxExport.BuildEmbeddingModel(weights, new XcosOnnxExportOptions { IncludeTargetEmbedding = true }).ToByteArray());
        var outs = exported.Run(new Dictionary<string, (float[], long[])> { [XcosOnnxExport.ImageInput] = (input, [faces.Count, 3, 112, 112]) }, XcosOnnxExport.TargetEmbeddingOutput);
        var exportedEmb = outs[XcosOnnxExport.TargetEmbeddingOutput].Data;
        float exportDiff = 0;
        for (int i = 0; i < faces.Count; i++)
        {
            var r = reference[i].Embedding;
            double n = Math.Sqrt(r.Sum(v => (double)v * v));
            exportDiff = Math.Max(exportDiff, MaxDiff(exportedEmb.AsSpan(i * ed, ed), r.Select(v => (float)(v / n)).ToArray()));
        }
        output.WriteLine($"exported again: max |normalised embedding - ORT| {exportDiff:G3}");
        Assert.True(exportDiff <= 1e-4, $"the re-exported model's embedding differs from fr_feature's by {exportDiff}");
    }

    [Fact]
    public void A_graph_that_is_not_a_folded_mobilefacenet_is_refused_naming_the_node()
    {
        using var net = new MobileFaceNet();
        var b = new OnnxGraphBuilder();
        string x = b.AddInput("input", [-1, 3, 112, 112]);
        b.AddOutput(b.Relu(x, "r"), "out", [-1, 3, 112, 112]);
        var model = OnnxModelFile.FromModel(b.Build("not_mobilefacenet"));
        var e = Assert.Throws<InvalidDataException>(() => OnnxMobileFaceNetImport.Load(net, model));
        Assert.Contains("Relu", e.Message);
    }
}
