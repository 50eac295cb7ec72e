using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Xcos.ML.Torch.Training;

namespace Xcos.Cli.Tests;

/// <summary>
/// The training row of the bad-input matrix, through the `xcos` process: SIGINT and SIGTERM during a run, a second
/// run into the same folder, <c>--resume</c> with <c>--config</c>, and <c>synth</c> into a used folder.
/// </summary>
[Collection("Training")]
public sealed class CliTrainingInterruptionTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public CliTrainingInterruptionTests(TinyFaceSet set) => _set = set;

    // A tiny network (two steps per epoch on the 6 training images), so that each run takes seconds.
    private static string Config(string dir, int epochs)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"tiny{epochs}.json");
        File.WriteAllText(path, $$"""
            { "Arch": "ir", "Stages": [1, 1, 1, 1], "GridChannels": 8, "Epochs": {{epochs}}, "BatchSize": 3, "Threads": 1,
              "Seed": 5, "ValidationFolds": 5, "EvaluationBatchSize": 8 }
            """);
        return path;
    }

    private string[] Train(string outDir, string config, params string[] extra) =>
        ["train", "--data", _set.TrainDir, "--val", _set.PairsPath, "--out", outDir, "--config", config, .. extra];

    private static int[] LoggedEpochs(string dir) =>
        File.ReadAllLines(Path.Combine(dir, TrainingFiles.Log)).Skip(1).Select(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).ToArray();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [Theory]
    [InlineData(2)]  // SIGINT, as Ctrl-C sends
    [InlineData(15)] // SIGTERM, as timeout, schedulers and container stops send
    public async Task SignalAfterTheFirstEpochLeavesAResumableCheckpoint(int signal)
    {
        string work = _set.NewOutputDir(), outDir = Path.Combine(work, "run");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "xcos.dll"));
        // 30 epochs outlast the signal by far, and bound the run where a parent left SIGINT ignored (background jobs of a
        // non-interactive shell): the child inherits that, .NET keeps it, and the test then fails on the exit code instead of hanging
        foreach (var a in Train(outDir, Config(work, 30))) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = new List<string>();
        string? line;
        while ((line = p.StandardError.ReadLine()) is not null)
        {
            stderr.Add(line);
            if (line.StartsWith("epoch 1/", StringComparison.Ordinal)) { Assert.Equal(0, kill(p.Id, signal)); break; }
        }
        stderr.AddRange(p.StandardError.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "no exit after the signal");
        Assert.True(p.ExitCode == 1, $"exit {p.ExitCode}: {string.Join('\n', stderr)}");
        var result = JsonDocument.Parse(await stdout).RootElement;
        Assert.True(result.GetProperty("cancelled").GetBoolean());
        Assert.Contains(stderr, l => l.Contains(signal == 2 ? "SIGINT" : "SIGTERM"));

        var last = Path.Combine(outDir, TrainingFiles.LastCheckpoint);
        var state = TrainingCheckpoint.ReadState(last);
        Assert.True(state.GlobalStep >= 2 && state.GlobalStep < 1000, $"{state.GlobalStep} steps");
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp"));
        int done = state.CompletedEpochs;

        // continue to two epochs past the interruption
        var (code, _, err) = CliProcess.Run(Train(outDir, Config(work, done + 2), "--resume", last));
        Assert.True(code == 0, err);
        var epochs = LoggedEpochs(outDir);
        Assert.Equal(Enumerable.Range(1, done + 2), epochs);
    }

    [Fact]
    public void SecondRunIntoTheSameFolderIsRefusedUntilResumeOrForce()
    {
        string work = _set.NewOutputDir(), outDir = Path.Combine(work, "run");
        var cfg = Config(work, 1);
        var (code, _, err) = CliProcess.Run(Train(outDir, cfg));
        Assert.True(code == 0, err);
        var before = File.ReadAllBytes(Path.Combine(outDir, TrainingFiles.LastCheckpoint));

        var (again, _, refusal) = CliProcess.Run(Train(outDir, cfg));
        Assert.Equal(1, again);
        Assert.Contains(Path.GetFullPath(outDir), refusal);
        Assert.Contains("1 epoch(s)", refusal);
        Assert.Contains("--resume", refusal);
        Assert.Contains("--force", refusal);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(outDir, TrainingFiles.LastCheckpoint)));

        // --resume with a config that names only the epochs keeps the resumed network (8 grid channels, stages 1,1,1,1)
        File.WriteAllText(Path.Combine(work, "more.json"), """{ "epochs": 2 }""");
        var (resumed, _, rerr) = CliProcess.Run("train", "--data", _set.TrainDir, "--out", outDir, "--config", Path.Combine(work, "more.json"),
            "--resume", Path.Combine(outDir, TrainingFiles.LastCheckpoint));
        Assert.True(resumed == 0, rerr);
        Assert.Equal([1, 2], LoggedEpochs(outDir));
        Assert.Equal(8, TrainingCheckpoint.ReadOptions(Path.Combine(outDir, TrainingFiles.LastCheckpoint)).GridChannels);

        var (forced, _, ferr) = CliProcess.Run(Train(outDir, cfg, "--force"));
        Assert.True(forced == 0, ferr);
        Assert.Equal([1], LoggedEpochs(outDir));
    }

    // A bad value or a key given twice in a training config: one line naming the file and the key, exit 2, and no run
    // folder left behind (the values are checked before the trainer creates it) (#23 smaller: training config)
    [Theory]
    [InlineData("""{ "Epochs": 1, "Temperature": 0 }""", "option Temperature = 0: must be positive")]
    [InlineData("""{ "Epochs": 1, "Backbone": { "WeightDecay": -1 } }""", "option Backbone.WeightDecay = -1: must be >= 0")]
    [InlineData("""{ "Epochs": 1, "Threads": -4 }""", "option Threads = -4")]
    [InlineData("""{ "Epochs": 1, "BatchSize": 3, "batchSize": 64 }""", "key 'batchSize' is given twice")]
    [InlineData("""{ "arch": { "type": "xCosModel", "args": { "temperature": -1 } } }""", "arch.args.temperature: -1: must be positive")]
    [InlineData("""{ "optimizers": { "default": { "type": "SGD", "args": { "lr": 0.1, "weight_decay": -1 } } } }""", "optimizers.default.args.weight_decay: -1: must be >= 0")]
    public void ABadTrainingConfigIsOneLineNamingFileAndKeyAndLeavesNoRunFolder(string json, string expected)
    {
        string work = _set.NewOutputDir(), outDir = Path.Combine(work, "run");
        Directory.CreateDirectory(work);
        var cfg = Path.Combine(work, "bad.json");
        File.WriteAllText(cfg, json);
        var (code, _, err) = CliProcess.Run(Train(outDir, cfg));
        Assert.True(code == 2, $"exit {code}: {err}");
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, err);
        Assert.StartsWith($"xcos: {cfg}: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.False(Directory.Exists(outDir), $"{outDir} was created");
    }

    // --resume keeps the run's network: a flag that would change it is refused in one line (it failed with a page of
    // mis-shaped tensors), one that changes nothing says so, and a run with no epoch left says so (#23 smaller: --resume)
    [Fact]
    public void ResumeSaysWhatNetworkFlagsDoAndWhenNothingIsLeftToTrain()
    {
        string work = _set.NewOutputDir(), outDir = Path.Combine(work, "run");
        var (code, _, err) = CliProcess.Run(Train(outDir, Config(work, 1)));
        Assert.True(code == 0, err);
        var last = Path.Combine(outDir, TrainingFiles.LastCheckpoint);
        var before = File.ReadAllBytes(last);

        var (refused, _, refusal) = CliProcess.Run("train", "--data", _set.TrainDir, "--out", outDir, "--resume", last, "--depth", "50");
        Assert.True(refused == 2, $"exit {refused}: {refusal}");
        var line = Assert.Single(refusal.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("xcos: --depth 50: ", line);
        Assert.Contains("stages 1,1,1,1", line);
        Assert.Contains("stages 3,4,14,3", line);
        Assert.Contains("keeps its network", line);
        Assert.Equal(before, File.ReadAllBytes(last));

        var (same, _, notes) = CliProcess.Run("train", "--data", _set.TrainDir, "--out", outDir, "--resume", last, "--stages", "1,1,1,1");
        Assert.True(same == 0, notes);
        Assert.Contains("note: --stages 1,1,1,1 change(s) nothing", notes);
        Assert.Contains("has completed 1 of 1 epoch(s): nothing left to train", notes);
    }

    [Fact]
    public void SynthIntoAUsedFolderIsRefusedUntilForce()
    {
        string dir = _set.NewOutputDir();
        string[] Synth(int seed, params string[] extra) =>
            ["synth", "--out", dir, "--identities", "4", "--images-per-identity", "2", "--val-pairs", "4", "--val-fraction", "0.5", "--size", "32", "--seed", seed.ToString(CultureInfo.InvariantCulture), .. extra];
        var (code, _, err) = CliProcess.Run(Synth(1));
        Assert.True(code == 0, err);
        var pairs = File.ReadAllText(Path.Combine(dir, "val_pairs.tsv"));
        var (again, _, refusal) = CliProcess.Run(Synth(2));
        Assert.Equal(1, again);
        Assert.Contains(dir, refusal);
        Assert.Contains("--force", refusal);
        Assert.Equal(pairs, File.ReadAllText(Path.Combine(dir, "val_pairs.tsv")));
        var (forced, _, ferr) = CliProcess.Run(Synth(2, "--force"));
        Assert.True(forced == 0, ferr);
        Assert.Equal(8, Directory.GetFiles(dir, "*.png", SearchOption.AllDirectories).Length);
    }
}
