using Xcos.ML.Torch.Config;
using Xcos.ML.Torch.Demo;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Tests;

/// <summary>Config files in the original xCos schema: parsing and the shipped recipes (the commands that take them: Xcos.Cli.Tests).</summary>
public sealed class OriginalConfigTests
{
    [Fact]
    public void TheOriginalTrainConfigMapsOntoTheTrainerOptions()
    {
        var c = OriginalConfig.Parse(OriginalConfigText.Train.Replace("DATA", "/data/casia").Replace("BINS", "/data/emore"), "train.json");
        var o = c.Trainer;
        foreach (var s in new[] { o.Backbone, o.Head, o.Attention, o.GridLayer })
            Assert.Equal(new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 0.001, WeightDecay = 0, Amsgrad = true }, s);
        Assert.Equal((5, 0.9), (o.LrStepSize, o.LrGamma));
        Assert.Equal((100, 48, 6), (o.Epochs, o.BatchSize, o.DecodeThreads));
        Assert.Equal((1.0, 2.0), (o.ClassificationWeight, o.XcosWeight));
        Assert.Equal(256, o.EvaluationBatchSize);
        Assert.Equal("auto", o.Device);
        Assert.True(o.TensorBoard);
        Assert.Equal("/data/casia", c.TrainDataDir);
        Assert.Equal(["/data/emore/lfw.bin"], c.ValidationSets);
        Assert.Equal(10572, c.ClassNum);
        Assert.Equal("xcos_train_config", c.Name);
        foreach (var key in new[] { "trainer.save_freq", "trainer.monitor", "visualization.log_dir", "validation_strategy", "valid_data_loaders.*.args.shuffle", "data_loader.args.name" })
            Assert.Contains(key, c.Ignored);
        Assert.DoesNotContain("trainer_args", c.Ignored); // empty, so nothing is lost
        Assert.Contains("trainer.save_freq", c.Warning);
    }

    [Theory]
    [InlineData("\"trainer\": {", "\"trainer\": { \"epoch\": 3,", "unknown key 'trainer.epoch'")]
    [InlineData("\"n_gpu\": 1,", "\"n_gpu\": 1, \"mystery\": 0,", "unknown key 'mystery'")]
    [InlineData("\"type\": \"StepLR\"", "\"type\": \"CosineAnnealingLR\"", "lr_schedulers.default.type: 'CosineAnnealingLR' is not supported")]
    [InlineData("\"type\": \"FaceBinDataLoader\"", "\"type\": \"FaceDataLoader\"", "valid_data_loaders.1.type")]
    [InlineData("\"batch_size\": 48", "\"batch_size\": \"48\"", "data_loader.args.batch_size: expected an integer")]
    // values out of range are named by the original's key, not the option they become (#23 smaller: training config)
    [InlineData("\"class_num\": 10572", "\"class_num\": 10572, \"temperature\": 0", "arch.args.temperature: 0: must be positive")]
    [InlineData("\"class_num\": 10572", "\"class_num\": 10572, \"temperature\": -2.5", "arch.args.temperature: -2.5: must be positive")]
    [InlineData("\"weight_decay\": 0,", "\"weight_decay\": -1,", "optimizers.default.args.weight_decay: -1: must be >= 0")]
    [InlineData("\"epochs\": 100,", "\"epochs\": 100, \"threads\": -4,", "trainer.threads: -4: must be 0 (all cores) or a positive count")]
    [InlineData("\"lr\": 0.001,", "\"lr\": 0.001, \"lr\": 0.1,", "key 'optimizers.default.args.lr' is given twice")]
    [InlineData("\"n_gpu\": 1,", "\"n_gpu\": 1, \"n_gpu\": 0,", "key 'n_gpu' is given twice")]
    public void UnknownKeysAndUnsupportedValuesAreErrorsNamingTheKey(string find, string replace, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => OriginalConfig.Parse(OriginalConfigText.Train.Replace(find, replace), "bad.json"));
        Assert.StartsWith("bad.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    // A JSON file of trainer options: a value out of range or a key given twice names the file and the key, read alone or
    // over a resumed run's options (#23 smaller: training config)
    [Theory]
    [InlineData("""{ "epochs": 2, "temperature": 0 }""", "option Temperature = 0: must be positive")]
    [InlineData("""{ "temperature": -1 }""", "option Temperature = -1: must be positive")]
    [InlineData("""{ "backbone": { "weightDecay": -1 } }""", "option Backbone.WeightDecay = -1: must be >= 0")]
    [InlineData("""{ "threads": -4 }""", "option Threads = -4: must be 0 (all cores) or a positive count")]
    [InlineData("""{ "epochs": 2, "Epochs": 5 }""", "key 'Epochs' is given twice")]
    [InlineData("""{ "head": { "learningRate": 0.1, "LearningRate": 0.5 } }""", "key 'head.LearningRate' is given twice")]
    public void TrainerOptionsFilesNameTheFileAndTheKeyOfABadValue(string json, string expected)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-options").FullName, "options.json");
        File.WriteAllText(path, json);
        foreach (var load in new Func<XcosTrainerOptions>[] { () => XcosTrainerOptions.LoadJson(path), () => XcosTrainerOptions.LoadJson(path, new XcosTrainerOptions()) })
        {
            var e = Assert.Throws<InvalidDataException>(load);
            Assert.StartsWith(path + ": ", e.Message);
            Assert.Contains(expected, e.Message);
        }
    }

    [Fact]
    public void KeysGivenTwiceInDifferentObjectsAreNotDuplicates()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-options").FullName, "options.json");
        File.WriteAllText(path, """{ "backbone": { "learningRate": 0.1 }, "head": { "learningRate": 0.2 }, "stages": [1, 1, 1, 1] }""");
        var o = XcosTrainerOptions.LoadJson(path);
        Assert.Equal((0.1, 0.2), (o.Backbone.LearningRate, o.Head.LearningRate));
    }

    [Fact]
    public void ShippedRecipesAreTheCodeDefaultsAndTheDemoRecipe()
    {
        Assert.Equal(new XcosTrainerOptions().ToJson(), OriginalConfig.Recipe("xcos_train_config.json").Trainer.ToJson());
        var demo = OriginalConfig.Recipe("demo_train_config.json").Trainer;
        Assert.Same(DemoRunner.DefaultTrainer.GetType(), demo.GetType());
        Assert.Equal(("mobilefacenet", MarginHeadKind.CosFace, 2, 32, 1, 0.85), (demo.Arch, demo.MarginHead, demo.Epochs, demo.BatchSize, demo.LrStepSize, demo.LrGamma));
        // the shipped checkpoint's seed and thread count (one thread: no sum depends on how work is split)
        Assert.Equal((0, (int?)1), (demo.Seed, demo.Threads));
        Assert.Equal(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, WeightDecay = 5e-4 }, demo.Backbone);
        Assert.Equal(new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 4e-5, Amsgrad = true }, demo.Attention);
        Assert.Equal(demo.ToJson(), DemoRunner.DefaultTrainer.ToJson());
        var testing = OriginalConfig.Recipe("xcos_testing.json");
        Assert.Equal(["lfw.bin", "cfp_fp.bin", "agedb_30.bin"], testing.TestSets.Select(Path.GetFileName));
        Assert.Equal(["demo_train_config.json", "xcos_testing.json", "xcos_train_config.json"], OriginalConfig.RecipeNames());
    }
}
