using System.Text.Json;
using Xcos.ML.Torch.Config;
using Xcos.ML.Torch.Demo;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Tests;

/// <summary>Config files in the original xCos schema: parsing, the shipped recipes, and `xcos train` / `xcos eval --config`.</summary>
public sealed class OriginalConfigTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public OriginalConfigTests(TinyFaceSet set) => _set = set;

    // The original's src/configs/xcos_train_config.json layout, as its trainer reads it.
    private const string OriginalTrainConfig = """
    {
        "n_gpu": 1,
        "optimizers": { "default": { "type": "Adam", "args": { "lr": 0.001, "weight_decay": 0, "amsgrad": true } } },
        "lr_schedulers": { "default": { "type": "StepLR", "args": { "step_size": 5, "gamma": 0.9 } } },
        "trainer": { "epochs": 100, "save_dir": "saved/", "save_freq": 1, "monitor": "valid_seen_loss",
                     "monitored_metric": "avg_loss", "monitor_mode": "min", "monitored_loader": "lfw" },
        "trainer_args": {},
        "visualization": { "tensorboardX": true, "log_dir": "saved/runs" },
        "arch": { "type": "xCosModel", "args": { "class_num": 10572 } },
        "data_loader": { "type": "FaceDataLoader", "args": { "data_dir": "DATA", "batch_size": 48, "validation_split": 0, "num_workers": 6, "name": "casia" } },
        "validation_strategy": "bypass_loss_calculation",
        "valid_data_loaders": { "1": { "type": "FaceBinDataLoader", "args": { "data_dir": "BINS", "batch_size": 256, "shuffle": false,
                                "validation_split": 0.0, "num_workers": 4, "name": "lfw" } } },
        "losses": {
            "0": { "type": "SiameseCrossEntropyLoss", "args": { "output_key": "thetas", "target_key": "targeted_id_labels", "nickname": "CrossEntropy", "weight": 1 } },
            "1": { "type": "SiameseMSELoss", "args": { "output_key": "x_coses", "target_key": "targeted_cos", "nickname": "MSE", "weight": 2 } }
        },
        "metrics": { "0": { "type": "VerificationMetric", "args": { "nickname": "verificationMetric", "output_key": "x_coses", "target_key": "is_same_labels" } } },
        "log_step": 1,
        "verbosity": 2,
        "name": "xcos_train_config"
    }
    """;

    [Fact]
    public void TheOriginalTrainConfigMapsOntoTheTrainerOptions()
    {
        var c = OriginalConfig.Parse(OriginalTrainConfig.Replace("DATA", "/data/casia").Replace("BINS", "/data/emore"), "train.json");
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
    public void UnknownKeysAndUnsupportedValuesAreErrorsNamingTheKey(string find, string replace, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => OriginalConfig.Parse(OriginalTrainConfig.Replace(find, replace), "bad.json"));
        Assert.StartsWith("bad.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ShippedRecipesAreTheCodeDefaultsAndTheDemoRecipe()
    {
        Assert.Equal(new XcosTrainerOptions().ToJson(), OriginalConfig.Recipe("xcos_train_config.json").Trainer.ToJson());
        var demo = OriginalConfig.Recipe("demo_train_config.json").Trainer;
        Assert.Same(DemoRunner.DefaultTrainer.GetType(), demo.GetType());
        Assert.Equal(("mobilefacenet", MarginHeadKind.CosFace, 30, 32, 1, 0.85), (demo.Arch, demo.MarginHead, demo.Epochs, demo.BatchSize, demo.LrStepSize, demo.LrGamma));
        Assert.Equal(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, WeightDecay = 5e-4 }, demo.Backbone);
        Assert.Equal(new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 4e-5, Amsgrad = true }, demo.Attention);
        Assert.Equal(demo.ToJson(), DemoRunner.DefaultTrainer.ToJson());
        var testing = OriginalConfig.Recipe("xcos_testing.json");
        Assert.Equal(["lfw.bin", "cfp_fp.bin", "agedb_30.bin"], testing.TestSets.Select(Path.GetFileName));
        Assert.Equal(["demo_train_config.json", "xcos_testing.json", "xcos_train_config.json"], OriginalConfig.RecipeNames());
    }

    [Fact]
    public void TrainRunsAConfigInTheOriginalSchemaUnchanged()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-cfg-train").FullName;
        var json = OriginalTrainConfig
            .Replace("\"DATA\"", JsonSerializer.Serialize(_set.TrainDir)).Replace("\"BINS\"", JsonSerializer.Serialize(Fixtures.Dir))
            .Replace("\"name\": \"lfw\"", "\"name\": \"pairs_py2\"").Replace("\"saved/\"", JsonSerializer.Serialize(dir))
            .Replace("\"epochs\": 100", "\"epochs\": 1").Replace("\"batch_size\": 48", "\"batch_size\": 3").Replace("\"num_workers\": 6", "\"num_workers\": 1")
            .Replace("\"n_gpu\": 1", "\"n_gpu\": 0")
            .Replace("\"target_key\": \"is_same_labels\" }", "\"target_key\": \"is_same_labels\", \"num_of_folds\": 2 }") // the fixture .bin has 4 pairs
            .Replace("\"class_num\": 10572", "\"class_num\": 2, \"backbone\": \"ir\", \"stages\": [1, 1, 1, 1], \"grid_channels\": 8");
        var cfg = Path.Combine(dir, "xcos_train_config.json");
        File.WriteAllText(cfg, json);
        var (code, stdout, stderr) = CliProcess.Run("train", "--config", cfg, "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Contains("warning: ", stderr);
        Assert.Contains("trainer.save_freq", stderr);
        var outDir = Path.Combine(dir, "xcos_train_config");
        Assert.True(File.Exists(Path.Combine(outDir, TrainingFiles.LastWeights)), stdout + stderr);
        var result = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(1, result.GetProperty("completed_epochs").GetInt32());
        Assert.Equal("pairs_py2", result.GetProperty("validation")[0].GetProperty("name").GetString());
        var options = XcosTrainerOptions.LoadJson(Path.Combine(outDir, TrainingFiles.Options));
        Assert.Equal((OptimizerKind.Adam, 0.001, 2.0), (options.Backbone.Kind, options.Backbone.LearningRate, options.XcosWeight));
    }

    [Fact]
    public void EvalTakesTheTestLoadersOfAConfigAndPrintsOneTableWithFlip()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-cfg-eval").FullName;
        string Loader(int i, string name) => $$"""
            "{{i}}": { "type": "FaceBinDataLoader", "args": { "data_dir": {{JsonSerializer.Serialize(Fixtures.Dir)}}, "batch_size": 8, "shuffle": false, "name": "{{name}}" } }
            """;
        var cfg = Path.Combine(dir, "xcos_testing.json");
        File.WriteAllText(cfg, $$"""
            {
                "n_gpu": 1,
                "arch": { "type": "xCosModel", "args": { "class_num": 10572, "draw_qualitative_result": true } },
                "test_data_loaders": { {{Loader(1, "pairs_py2")}}, {{Loader(2, "pairs_protocol2")}}, {{Loader(3, "pairs_protocol4")}} },
                "metrics": { "0": { "type": "VerificationMetric", "args": { "nickname": "verificationMetric", "num_of_folds": 10, "scenario": "validation" } } },
                "saved_keys": ["xcos_visualizations", "index", "x_coses", "is_same_labels"],
                "name": "testing_xCos_lfw"
            }
            """);
        var checkpoint = Fixtures.Path("xcos_tiny", "checkpoint.pth");
        var (code, stdout, stderr) = CliProcess.Run("eval", "--config", cfg, "--checkpoint", checkpoint, "--aligned", "--flip", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Contains("saved_keys", stderr); // named in the warning
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("data set", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("flip test-time augmentation", StringComparison.Ordinal));
        foreach (var name in new[] { "pairs_py2", "pairs_protocol2", "pairs_protocol4" })
            Assert.Contains(lines, l => l.StartsWith(name + " ", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..3].SequenceEqual(["4", "0"]));

        var (jcode, jout, jerr) = CliProcess.Run("eval", "--pairs", Fixtures.Path("pairs_py2.bin"), Fixtures.Path("pairs_protocol4.bin"),
            "--checkpoint", checkpoint, "--aligned", "--flip", "--json", "--threads", "1");
        Assert.True(jcode == 0, jerr);
        var root = JsonDocument.Parse(jout).RootElement;
        Assert.True(root.GetProperty("flip").GetBoolean());
        var sets = root.GetProperty("sets").EnumerateArray().ToList();
        Assert.Equal(["pairs_py2", "pairs_protocol4"], sets.Select(s => s.GetProperty("data_set").GetString()));
        // the same four pairs in two encodings score the same
        Assert.Equal(sets[0].GetProperty("result").GetProperty("xcos").GetProperty("auc").GetDouble(),
            sets[1].GetProperty("result").GetProperty("xcos").GetProperty("auc").GetDouble());

        var (ncode, nout, nerr) = CliProcess.Run("eval", "--pairs", Fixtures.Path("pairs_py2.bin"), Fixtures.Path("pairs_protocol4.bin"),
            "--checkpoint", checkpoint, "--aligned", "--json", "--threads", "1");
        Assert.True(ncode == 0, nerr);
        var plain = JsonDocument.Parse(nout).RootElement.GetProperty("sets")[0].GetProperty("result").GetProperty("xcos").GetProperty("threshold").GetDouble();
        var flipped = sets[0].GetProperty("result").GetProperty("xcos").GetProperty("threshold").GetDouble();
        Assert.NotEqual(plain, flipped); // flip TTA changes the scores
    }
}
