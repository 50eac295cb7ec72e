using TorchSharp;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.FaceModels;
using Xcos.ML.Torch.Training;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

[Collection("Training")]
public sealed class OnnxHeadTrainingTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public OnnxHeadTrainingTests(TinyFaceSet set) => _set = set;

    private const int MapChannels = 16, EmbeddingDims = 24;

    // A tiny ONNX "face model": 16x16 average pooling to 3x7x7, a fixed 1x1 convolution to a 16x7x7 map (value "map"),
    // then a linear embedding of the flattened map (output "output"), not normalised, as real models are.
    private static (FaceModelDescriptor Descriptor, string OnnxPath) ToyModel(string dir)
    {
        var r = new Random(5);
        float[] Rand(int n, double s) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * s)).ToArray();
        var b = new OnnxGraphBuilder("toy_face");
        string x = b.AddInput("input", [-1, 3, 112, 112]);
        string pooled = b.Op("AveragePool", [x], "pool", OnnxAttr.Ints("kernel_shape", 16, 16), OnnxAttr.Ints("strides", 16, 16));
        string map = b.Conv(pooled, b.Initializer("w", Rand(MapChannels * 3, 1), [MapChannels, 3, 1, 1]), b.Initializer("b", Rand(MapChannels, 0.2), [MapChannels]), name: "map_conv");
        map = b.PRelu(map, b.Initializer("slope", Enumerable.Repeat(0.3f, MapChannels).ToArray(), [MapChannels, 1, 1]), "map");
        string flat = b.Flatten(map, 1, "flat");
        string e = b.Gemm(flat, b.Initializer("lw", Rand(EmbeddingDims * MapChannels * 49, 0.05), [EmbeddingDims, MapChannels * 49]), b.Initializer("lb", Rand(EmbeddingDims, 0.1), [EmbeddingDims]), true, "lin");
        b.AddOutput(e, "output", [-1, EmbeddingDims]);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "toy.onnx");
        b.Save(path);
        var d = new FaceModelDescriptor { Name = "toy", OnnxFile = "toy.onnx", Mean = 127, Scale = 1 / 128f, Threshold = 0.3, FeatureMapName = map };
        d.Save(Path.Combine(dir, "toy.json"));
        return (d, path);
    }

    private static XcosTrainerOptions Options(OnnxFeatureMapSource source, int epochs) => new()
    {
        Mode = TrainingMode.Head, TargetCheckpoint = source.OnnxPath, Preprocess = source.Preprocess, GridChannels = 8, Epochs = epochs,
        BatchSize = 4, PairsPerEpoch = 16, Threads = 1, Seed = 4, ValidationFolds = 2, EvaluationBatchSize = 8,
        GridLayer = new() { Kind = OptimizerKind.Adam, LearningRate = 1e-2, WeightDecay = 0 },
        Attention = new() { Kind = OptimizerKind.Adam, LearningRate = 1e-2, WeightDecay = 0 },
    };

    [Fact]
    public void Source_gives_the_embedders_maps_and_normalised_embeddings_from_loader_floats()
    {
        var (d, onnx) = ToyModel(_set.NewOutputDir());
        using var source = new OnnxFeatureMapSource(d, onnx, 1);
        Assert.Equal(MapChannels, source.Channels);
        Assert.Equal(EmbeddingDims, source.EmbeddingSize);
        Assert.Equal(128f, source.Preprocess.Std);
        var files = _set.Train().Samples.Take(3).Select(s => s.Path).ToArray();
        var loader = new FaceImageLoader(source.Preprocess);
        var input = new float[files.Length * loader.Options.ImageFloats];
        for (int i = 0; i < files.Length; i++) loader.Load(files[i], input.AsSpan(i * loader.Options.ImageFloats, loader.Options.ImageFloats));
        var maps = new float[files.Length * MapChannels * 49];
        var embs = new float[files.Length * EmbeddingDims];
        source.Compute(input, files.Length, maps, embs);
        for (int i = 0; i < files.Length; i++)
        {
            var want = source.Embedder.Embed(ImageIO.Load(files[i]));
            for (int k = 0; k < MapChannels * 49; k++) Assert.Equal(want.FeatureMap[k], maps[i * MapChannels * 49 + k], 1e-5f);
            double norm = Math.Sqrt(want.Embedding.Sum(v => (double)v * v));
            for (int k = 0; k < EmbeddingDims; k++) Assert.Equal(want.Embedding[k] / norm, embs[i * EmbeddingDims + k], 1e-5);
        }
        Assert.Throws<ArgumentException>(() => source.Compute(input, files.Length, maps.AsSpan(1), embs));
    }

    [Fact]
    public void Trained_head_exported_to_onnx_scores_as_the_torch_head_and_lowers_the_mse()
    {
        var dir = _set.NewOutputDir();
        var (d, onnx) = ToyModel(Path.Combine(dir, "model"));
        using var source = new OnnxFeatureMapSource(d, onnx, 1);
        using var t = new XcosHeadTrainer(Options(source, 8), source, _set.Train(), [_set.Pairs()], Path.Combine(dir, "run"));
        var r = t.Train();
        Assert.Equal(8, r.CompletedEpochs);
        Assert.True(r.Epochs[^1].Loss < r.Epochs[0].Loss, $"MSE did not fall: {r.Epochs[0].Loss} -> {r.Epochs[^1].Loss}");

        var headPath = Path.Combine(dir, LearnedHead.DefaultFileName);
        LearnedHeadExport.Save(t.Head, source, headPath, training: "test");
        using var head = new LearnedHead(headPath, 1);
        Assert.Equal("toy", head.FaceModel);
        Assert.Equal(source.Embedder.FeatureMapName, head.Metadata[LearnedHead.FeatureMapKey]);
        head.CheckFits(d, source.Channels);

        // The ONNX head (BN folded, ONNX Runtime) gives the TorchSharp head's eval-mode xCos, cosine map and attention.
        var c = t.Cache!;
        int n = Math.Min(6, c.Count), mf = c.MapFloats;
        var m1 = new float[n * mf]; var m2 = new float[n * mf];
        for (int i = 0; i < n; i++) { c.Map(i, 0).CopyTo(m1.AsSpan(i * mf)); c.Map((i + 1) % c.Count, 1).CopyTo(m2.AsSpan(i * mf)); }
        var onnxScores = head.Explain(m1, m2, n);
        t.Head.eval();
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var s = t.Head.call(tensor(m1, [n, MapChannels, 7, 7]), tensor(m2, [n, MapChannels, 7, 7]));
            var x = s.Xcos.data<float>().ToArray();
            var att = s.Attention.reshape(n, 49).data<float>().ToArray();
            var cm = s.CosMap.reshape(n, 49).data<float>().ToArray();
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(x[i], onnxScores[i].Xcos, 1e-4);
                for (int p = 0; p < 49; p++)
                {
                    Assert.Equal(att[i * 49 + p], onnxScores[i].Attention[p], 1e-5f);
                    Assert.Equal(cm[i * 49 + p], onnxScores[i].CosMap[p], 1e-4f);
                }
            }
        }

        // The trainer's weights file exports to the same head.
        var fromFile = Path.Combine(dir, "from_file.onnx");
        LearnedHeadExport.SaveFromWeightsFile(Path.Combine(dir, "run", TrainingFiles.LastWeights), source, fromFile);
        using var head2 = new LearnedHead(fromFile, 1);
        Assert.Equal(onnxScores[0].Xcos, head2.Explain(m1.AsSpan(0, mf), m2.AsSpan(0, mf)).Xcos, 1e-6);

        var junk = Path.Combine(dir, "junk.pth");
        File.WriteAllText(junk, "not a checkpoint");
        Assert.Contains(junk, Assert.Throws<InvalidDataException>(() => LearnedHeadExport.SaveFromWeightsFile(junk, source, Path.Combine(dir, "x.onnx"))).Message);
    }

    [Fact]
    public void Open_names_the_missing_onnx_file_and_refuses_maps_that_are_not_7x7()
    {
        var dir = _set.NewOutputDir();
        Directory.CreateDirectory(dir);
        var desc = Path.Combine(dir, "missing.json");
        new FaceModelDescriptor { Name = "missing", OnnxFile = "nowhere.onnx", Threshold = 0.3 }.Save(desc);
        Assert.Contains("nowhere.onnx", Assert.Throws<FileNotFoundException>(() => OnnxFeatureMapSource.Open(desc, dir)).Message);

        var (d, onnx) = ToyModel(Path.Combine(dir, "m"));
        d.FeatureMapName = "flat";  // a 2-D value: not a map
        Assert.Throws<InvalidDataException>(() => new OnnxFeatureMapSource(d, onnx));
        // Open finds the ONNX file next to its descriptor when the models folder lacks it
        using var opened = OnnxFeatureMapSource.Open(Path.Combine(dir, "m", "toy.json"), dir);
        Assert.Equal("toy", opened.Descriptor.Name);
    }
}
