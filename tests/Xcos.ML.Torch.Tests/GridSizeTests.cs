using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using Xcos.ML.Alignment;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Config;
using Xcos.ML.Torch.Explain;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// The grid side is a parameter: a 5x5 grid (3x3 grid-layer kernel on the 7x7 map) goes through network, checkpoint,
/// ONNX export, the ML.NET pipeline and the figure; a trunk whose last map is not 7x7 is refused, named.
/// </summary>
public sealed class GridSizeTests
{
    [Theory]
    [InlineData("ir", 224, "14x14")]
    [InlineData("mobilefacenet", 80, "5x5")]
    public void ANon7x7TrunkMapIsRefusedNamingItsSize(string arch, int input, string map)
    {
        using var model = new XcosModel(new XcosModelOptions { Arch = arch, Stages = arch == "ir" ? [1, 1, 1, 1] : null, GridChannels = 8, TargetArch = arch == "ir" ? "ir" : null });
        model.eval();
        using var _ = no_grad();
        using var x = rand(1, 3, input, input);
        var e = Assert.Throws<NotSupportedException>(() => model.Forward(x, x));
        Assert.Contains($"last feature map is {map} for a {input}x{input} input", e.Message);
        Assert.Contains("needs a 7x7 last map (112x112 input)", e.Message);
        if (model.BackboneTarget is { } target)
            Assert.Contains(map, Assert.Throws<NotSupportedException>(() => target.Embed(x)).Message);
        using var ok = rand(1, 3, 112, 112);
        Assert.Equal([1L], model.Forward(ok, ok).Xcos.shape);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    public void AGridSideOutside1To7IsRefused(int side)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new XcosModel(new XcosModelOptions { Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 4, GridSize = side }));
        Assert.Contains("grid side must be 1..7", e.Message);
    }

    [Fact]
    public void A5x5GridRunsFromNetworkToCheckpointOnnxMlNetAndFigure()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"xcos_grid5_{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            // network: a 3x3 grid-layer kernel on the 7x7 map gives 5x5 cells; BN statistics randomised so the
            // export's BatchNorm folding is exercised
            using var model = new XcosModel(new XcosModelOptions { Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 8, GridSize = 5 });
            Assert.Equal(8 * 25, model.Backbone.GridEmbeddingSize);
            RandomiseBatchNorm(model);
            model.eval();
            var faces1 = Enumerable.Range(0, 4).Select(p => Fixtures.Path("xcos_tiny", $"pair{p}_image1.png")).ToArray();
            var faces2 = Enumerable.Range(0, 4).Select(p => Fixtures.Path("xcos_tiny", $"pair{p}_image2.png")).ToArray();
            var torchResults = faces1.Zip(faces2, (a, b) => XcosExplainer.Explain(model, ImageIO.Load(a), ImageIO.Load(b))).ToArray();
            Assert.All(torchResults, r =>
            {
                Assert.Equal(25, r.CosMap.Length);
                Assert.Equal(1.0, r.Attention.Sum(), 1e-5);
                Assert.Equal(r.Xcos, r.Contribution.Sum(), 1e-5);
            });

            // checkpoint: the grid side is read back from the kernel shape of backbone.conv1x1.0.weight
            string ckpt = Path.Combine(dir, "grid5.pth");
            XcosCheckpoint.Save(model, ckpt);
            using (var reloaded = XcosModelLoader.Load(ckpt))
            {
                Assert.Equal(5, reloaded.Options.GridSize);
                Assert.Equal(5, reloaded.Backbone.GridSize);
                var again = XcosExplainer.Explain(reloaded, ImageIO.Load(faces1[0]), ImageIO.Load(faces2[0]));
                Assert.Equal(torchResults[0].CosMap, again.CosMap);
            }

            // ONNX export: grid [N,8,5,5], cos_map and attention [N,25]
            var weights = TorchOnnxExport.LoadCheckpointWeights(ckpt);
            var embedding = XcosOnnxExport.BuildEmbeddingModel(weights);
            var grid = embedding.Graph.Output.Single(o => o.Name == XcosOnnxExport.GridOutput);
            Assert.Equal([0, 8, 5, 5], grid.Type.TensorType.Shape.Dim.Select(d => d.DimValue));
            var head = XcosOnnxExport.BuildPairHeadModel(weights);
            Assert.Equal(25, head.Graph.Output.Single(o => o.Name == XcosOnnxExport.CosMapOutput).Type.TensorType.Shape.Dim[1].DimValue);
            // the path `xcos export` takes (a loaded model's weights) writes the same grid
            using (var loaded = XcosModelLoader.Load(ckpt))
            {
                var exported = XcosOnnxExport.BuildEmbeddingModel(TorchOnnxExport.ToWeights(loaded));
                Assert.Equal([8L, 5L, 5L], exported.Graph.Output.Single(o => o.Name == XcosOnnxExport.GridOutput).Type.TensorType.Shape.Dim.Skip(1).Select(d => d.DimValue));
            }

            // ML.NET: the pipeline built from the checkpoint's weights scores as TorchSharp does, saved and reloaded
            var ml = new MLContext(seed: 1);
            var template = new float[10];
            for (int i = 0; i < 5; i++) { template[2 * i] = (float)ArcFaceTemplate.Points112[i].X; template[2 * i + 1] = (float)ArcFaceTemplate.Points112[i].Y; }
            var rows = Enumerable.Range(0, 4).Select(p => new PairInput
            {
                ImagePath1 = faces1[p], ImagePath2 = faces2[p], Landmarks1 = template, Landmarks2 = template, Label = p < 2,
            }).ToArray();
            var data = ml.Data.LoadFromEnumerable(rows);
            var fitted = XcosPipeline.Create(ml.Transforms, new XcosPipelineOptions { Weights = weights }).Fit(data);
            string zip = Path.Combine(dir, "grid5.zip");
            ml.Model.Save(fitted, data.Schema, zip);
            var loadContext = new MLContext(seed: 2);
            loadContext.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
            var scored = loadContext.Model.Load(zip, out _).Transform(loadContext.Data.LoadFromEnumerable(rows));
            Assert.Equal(25, ((VectorDataViewType)scored.Schema["CosineMap"].Type).Size);
            var xcos = scored.GetColumn<float>("Xcos").ToArray();
            var maps = scored.GetColumn<VBuffer<float>>("CosineMap").Select(v => v.DenseValues().ToArray()).ToArray();
            var att = scored.GetColumn<VBuffer<float>>("Attention").Select(v => v.DenseValues().ToArray()).ToArray();
            for (int p = 0; p < 4; p++)
            {
                Assert.True(Math.Abs(xcos[p] - torchResults[p].Xcos) <= 1e-4f, $"pair {p}: ML.NET xCos {xcos[p]} vs TorchSharp {torchResults[p].Xcos}");
                for (int c = 0; c < 25; c++)
                {
                    Assert.True(Math.Abs(maps[p][c] - torchResults[p].CosMap[c]) <= 1e-4f, $"pair {p} cell {c}: cos {maps[p][c]} vs {torchResults[p].CosMap[c]}");
                    Assert.True(Math.Abs(att[p][c] - torchResults[p].Attention[c]) <= 1e-4f, $"pair {p} cell {c}: attention {att[p][c]} vs {torchResults[p].Attention[c]}");
                }
            }
            // the typed prediction class takes any grid
            using (var engine = loadContext.Model.CreatePredictionEngine<PairInput, FacePairPrediction>(loadContext.Model.Load(zip, out _)))
                Assert.Equal(25, engine.Predict(rows[0]).CosineMap.Length);

            // figure: the ML.NET maps draw a 5x5 grid; the TorchSharp explanation's 7x7 Grad-CAM gives way to the contributions
            var figure = new ExplanationInput
            {
                Face1Rgb = ImageIO.Load(faces1[0]).Pixels, Face2Rgb = ImageIO.Load(faces2[0]).Pixels,
                CosMap = maps[0], Attention = att[0], Score = xcos[0], Cosine = 0, Threshold = 0.5,
            };
            Assert.Equal(5, figure.Grid());
            var (_, width, height) = RgbPng.DecodeRgb(ExplanationFigure.RenderPng(figure));
            Assert.True(width > 3 * 112 && height > 112, $"figure {width}x{height}");
            var fromTorch = torchResults[0].ToFigureInput(ImageIO.Load(faces1[0]), ImageIO.Load(faces2[0]), 0.5);
            Assert.Equal(5, fromTorch.Grid());
            Assert.Equal(torchResults[0].Contribution, fromTorch.ExtraMap);
            Assert.StartsWith("Contribution", fromTorch.ExtraMapTitle);
            Assert.NotEmpty(ExplanationFigure.RenderPng(fromTorch));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AConfigWithGridSize5TrainsAndCheckpointsA5x5Model()
    {
        var config = OriginalConfig.Parse("""{ "arch": { "type": "xCosModel", "args": { "backbone": "ir", "stages": [1, 1, 1, 1], "grid_channels": 8, "grid_size": 5 } } }""", "grid5.json");
        Assert.Equal(5, config.Trainer.GridSize);
        Assert.Contains("option GridSize = 9: must be 1..7", Assert.Throws<ArgumentException>(() => (config.Trainer with { GridSize = 9 }).Validate()).Message);
        using var set = new TinyFaceSet();
        string output = set.NewOutputDir();
        var options = TinyTrainer.Options(epochs: 1) with { GridSize = config.Trainer.GridSize };
        using (var trainer = new XcosTrainer(options, set.Train(), [set.Pairs()], output))
        {
            Assert.Equal(5, trainer.Model.Backbone.GridSize);
            var r = trainer.Train();
            Assert.Equal(1, r.CompletedEpochs);
            Assert.InRange(r.Epochs[0].Validation[0].Xcos.AccuracyMean, 0, 1);
        }
        using var model = XcosModelLoader.Load(Path.Combine(output, TrainingFiles.BestWeights));
        Assert.Equal(5, model.Options.GridSize);
        var (bytes1, bytes2) = set.Pairs().ReadPair(0);
        Assert.Equal(25, XcosExplainer.Explain(model, ImageIO.Load(bytes1), ImageIO.Load(bytes2)).CosMap.Length);
    }

    private static void RandomiseBatchNorm(nn.Module model)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var g = new Generator(7);
        foreach (var (name, buffer) in model.named_buffers())
        {
            if (name.EndsWith("running_mean", StringComparison.Ordinal)) buffer.copy_(randn(buffer.shape, generator: g) * 0.1);
            else if (name.EndsWith("running_var", StringComparison.Ordinal)) buffer.copy_(rand(buffer.shape, generator: g) + 0.5);
        }
    }
}
