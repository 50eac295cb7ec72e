using System.Text.Json;
using Xcos.ML.Torch.Training;

namespace Xcos.Cli.Tests;

/// <summary>`xcos train --config` and `xcos eval --config` with config files in the original xCos schema.</summary>
public sealed class OriginalConfigCommandTests : IClassFixture<TinyFaceSet>, IDisposable
{
    private readonly TinyFaceSet _set;
    private readonly List<string> _dirs = [];
    public OriginalConfigCommandTests(TinyFaceSet set) => _set = set;

    // each training run leaves about 650 MB (checkpoints of an IR network): removed after every test
    public void Dispose()
    {
        foreach (var d in _dirs)
            if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
    }

    private string TempDir(string prefix)
    {
        var d = Directory.CreateTempSubdirectory(prefix).FullName;
        _dirs.Add(d);
        return d;
    }

    [Fact]
    public void TrainRunsAConfigInTheOriginalSchemaUnchanged()
    {
        var dir = TempDir("xcos-cfg-train");
        var json = OriginalConfigText.Train
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
        var dir = TempDir("xcos-cfg-eval");
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
            Assert.Contains(lines, l => l.StartsWith(name + " ", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries).AsSpan(1, 2).SequenceEqual(["4", "0"]));

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
