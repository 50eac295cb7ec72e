using System.Text.Json;

namespace Xcos.Cli.Tests;

/// <summary>eval, export and inspect through the built `xcos` tool, on the fixture checkpoint and its four aligned pairs.</summary>
public class CliCommandTests
{
    private static readonly string Tiny = Fixtures.Path("xcos_tiny");
    private static readonly string Checkpoint = Path.Combine(Tiny, "checkpoint.pth");

    private static string PairTsv(string dir, bool withBadRow = false)
    {
        var lines = new List<string> { "file1\tfile2\tsame" };
        for (int p = 0; p < 4; p++) lines.Add($"pair{p}_image1.png\tpair{p}_image2.png\t{(p < 2 ? 1 : 0)}");
        if (withBadRow) lines.Add("missing.png\tpair0_image2.png\t1");
        var path = Path.Combine(dir, "pairs.tsv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void EvalPrintsBothMetricBlocksAndCountsSkippedRows()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-eval").FullName;
        var (code, stdout, stderr) = CliProcess.Run("eval", "--pairs", PairTsv(dir, withBadRow: true), "--root", Tiny,
            "--checkpoint", Checkpoint, "--aligned", "--json", "--report", Path.Combine(dir, "report"));
        Assert.True(code == 0, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(5, root.GetProperty("pairs").GetInt32());
        Assert.Equal(1, root.GetProperty("skipped").GetInt32());
        Assert.Contains("missing.png", root.GetProperty("skipped_rows")[0].GetProperty("reason").GetString());
        foreach (var block in new[] { "xcos", "cosine" })
            foreach (var key in new[] { "auc", "accuracy", "accuracy_std", "threshold", "tar_at_far_1e-3", "eer" })
                Assert.True(root.GetProperty(block).TryGetProperty(key, out _), $"{block}.{key} missing");
        // the fixture's same pairs score far above its different pairs (xcos.npy: .97 .96 vs .45 .47)
        Assert.Equal(1.0, root.GetProperty("xcos").GetProperty("auc").GetDouble(), 6);
        Assert.True(File.Exists(Path.Combine(dir, "report", "index.html")));
    }

    [Fact]
    public void EvalScoresWritesOneRowPerPairWithStatusAndVariant()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-eval-scores").FullName;
        var scores = Path.Combine(dir, "scores.tsv");
        var (code, stdout, stderr) = CliProcess.Run("eval", "--pairs", PairTsv(dir, withBadRow: true), "--root", Tiny,
            "--checkpoint", Checkpoint, "--aligned", "--json", "--scores", scores);
        Assert.True(code == 0, stderr);
        var rows = Xcos.ML.Metrics.PairScoresFile.Read(scores);
        Assert.Equal(5, rows.Count);
        Assert.Equal(new[] { true, true, false, false, true }, rows.Select(r => r.Row.Same));
        Assert.All(rows.Take(4), r => { Assert.Equal("ok", r.Row.Status); Assert.NotNull(r.Row.Xcos); Assert.NotNull(r.Row.Cosine); });
        Assert.Equal("missing.png", rows[4].Row.File1);
        Assert.Null(rows[4].Row.Xcos);
        Assert.Contains("missing.png", rows[4].Row.Status);
        Assert.All(rows, r => Assert.Equal("checkpoint", r.Variant));
        // the file's scores are the ones the metrics were computed from: same pairs above different ones (AUC 1)
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(1.0, root.GetProperty("xcos").GetProperty("auc").GetDouble(), 6);
        Assert.True(rows.Take(2).Min(r => r.Row.Xcos!.Value) > rows.Skip(2).Take(2).Max(r => r.Row.Xcos!.Value));
    }

    [Fact]
    public void EvalScoresIntoAMissingFolderFailsBeforeScoring()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-eval-scores").FullName;
        var (code, _, stderr) = CliProcess.Run("eval", "--pairs", PairTsv(dir), "--root", Tiny,
            "--checkpoint", Checkpoint, "--aligned", "--scores", Path.Combine(dir, "no", "such", "scores.tsv"));
        Assert.Equal(1, code);
        Assert.Contains("cannot write the pair scores", stderr);
        Assert.Contains("does not exist", stderr);
        Assert.DoesNotContain("scoring pairs", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void EvalRefusesScoresThatAreOneOfItsInputs()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-eval-scores").FullName;
        var pairs = PairTsv(dir);
        var before = File.ReadAllBytes(pairs);
        var link = Path.Combine(dir, "link.tsv");
        File.CreateSymbolicLink(link, pairs);
        foreach (var scores in new[] { pairs, link })
        {
            var (code, _, stderr) = CliProcess.Run("eval", "--pairs", pairs, "--root", Tiny, "--checkpoint", Checkpoint, "--aligned", "--scores", scores);
            Assert.Equal(2, code);
            Assert.Contains("is one of the inputs", stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.Equal(before, File.ReadAllBytes(pairs));
        }
    }

    [Fact]
    public void EvalScoresIntoAnUnwritableFolderFailsBeforeScoring()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-eval-scores").FullName;
        // /proc takes no new files, even from root (file permissions would not stop root)
        var (code, _, stderr) = CliProcess.Run("eval", "--pairs", PairTsv(dir), "--root", Tiny,
            "--checkpoint", Checkpoint, "--aligned", "--scores", "/proc/xcos-scores.tsv");
        Assert.Equal(1, code);
        Assert.Contains("cannot write the pair scores", stderr);
        Assert.DoesNotContain("scoring pairs", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void ExportedMlNetModelInspectsWithTheScoringColumns()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-export").FullName;
        var zip = Path.Combine(dir, "model.zip");
        var (code, _, stderr) = CliProcess.Run("export", "--checkpoint", Checkpoint, "--format", "mlnet", "--out", zip,
            "--pairs", PairTsv(dir), "--root", Tiny);
        Assert.True(code == 0, stderr);
        var (icode, stdout, ierr) = CliProcess.Run("inspect", zip, "--json");
        Assert.True(icode == 0, ierr);
        var outputs = JsonDocument.Parse(stdout).RootElement.GetProperty("output_columns").EnumerateArray().Select(e => e.GetString()).ToArray();
        foreach (var col in new[] { "Score:", "CosineMap:", "Attention:", "Cosine:", "PredictedLabel:" })
            Assert.Contains(outputs, o => o!.StartsWith(col, StringComparison.Ordinal));
    }

    [Fact]
    public void ExportOnnxWritesBothModelsAndInspectFindsTheirShapes()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-onnx").FullName;
        var (code, _, stderr) = CliProcess.Run("export", "--checkpoint", Checkpoint, "--format", "onnx", "--out", dir);
        Assert.True(code == 0, stderr);
        var (icode, stdout, ierr) = CliProcess.Run("inspect", Path.Combine(dir, "xcos_embedding.onnx"), "--json");
        Assert.True(icode == 0, ierr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Contains(root.GetProperty("outputs").EnumerateArray(), o => o.GetString() == "grid [N,32,7,7]");
        Assert.True(File.Exists(Path.Combine(dir, "xcos_pair_head.onnx")));
    }

    [Fact]
    public void ExportOnnxInt8WritesQuantizedModelsNamingTheirCalibrationFaces()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-int8").FullName;
        try
        {
            var (code, _, stderr) = CliProcess.Run("export", "--checkpoint", Checkpoint, "--format", "onnx", "--out", dir, "--precision", "int8", "--calibration-count", "4");
            Assert.True(code == 0, stderr);
            foreach (var name in new[] { "xcos_embedding", "xcos_pair_head" })
            {
                var q = Xcos.ML.Onnx.OnnxModelFile.Load(Path.Combine(dir, name + ".int8.onnx"));
                var meta = q.Model.MetadataProps.ToDictionary(e => e.Key, e => e.Value);
                Assert.Contains("4 synthetic faces (seed 0", meta[Xcos.ML.Onnx.OnnxQuantizer.CalibrationKey]);
                Assert.Contains(q.Graph.Node, n => n.OpType == "QuantizeLinear");
                Assert.True(File.Exists(Path.Combine(dir, name + ".onnx")));
            }
        }
        finally { Directory.Delete(dir, true); }   // 146 MB of models per run
    }

    // All or nothing: calibration that fails (here on a face that is not 112x112) used to leave the fp32 files written
    // (#23 smaller: int8 export)
    [Fact]
    public void ExportOnnxInt8ThatFailsAtCalibrationWritesNothing()
    {
        var work = Directory.CreateTempSubdirectory("xcos-int8-fail").FullName;
        var faces = Directory.CreateDirectory(Path.Combine(work, "faces")).FullName;
        Xcos.ML.Images.ImageIO.SavePng(new Xcos.ML.Images.RgbImage(64, 64), Path.Combine(faces, "small.png"));
        var dir = Path.Combine(work, "out");
        var (code, _, stderr) = CliProcess.Run("export", "--checkpoint", Checkpoint, "--format", "onnx", "--out", dir, "--precision", "int8", "--calibration", faces);
        Assert.True(code == 1, $"exit {code}: {stderr}");
        Assert.Contains("small.png: 64x64", stderr);
        Assert.False(Directory.Exists(dir), string.Join(", ", Directory.Exists(dir) ? Directory.GetFiles(dir) : []));

        // into a folder that holds an earlier export: its files stay as they were
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "xcos_embedding.onnx"), "earlier");
        (code, _, stderr) = CliProcess.Run("export", "--checkpoint", Checkpoint, "--format", "onnx", "--out", dir, "--precision", "int8", "--calibration", faces);
        Assert.Equal(1, code);
        Assert.Equal(["xcos_embedding.onnx"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Equal("earlier", File.ReadAllText(Path.Combine(dir, "xcos_embedding.onnx")));
        Directory.Delete(work, true);
    }

    [Fact]
    public void Int8OnACheckpointOrAnMlNetExportIsUsageError()
    {
        var (code, _, stderr) = CliProcess.Run("verify", Path.Combine(Tiny, "pair0_image1.png"), Path.Combine(Tiny, "pair0_image2.png"),
            "--checkpoint", Checkpoint, "--aligned", "--precision", "int8");
        Assert.Equal(2, code);
        Assert.Contains("--precision int8", stderr);
        (code, _, stderr) = CliProcess.Run("export", "--checkpoint", Checkpoint, "--format", "mlnet", "--threshold", "0.5", "--precision", "int8",
            "--out", Path.Combine(Path.GetTempPath(), "never.zip"));
        Assert.Equal(2, code);
        Assert.Contains("--format onnx", stderr);
    }

    [Fact]
    public void InspectCheckpointReportsTheInferredArchitecture()
    {
        var (code, stdout, stderr) = CliProcess.Run("inspect", Checkpoint, "--json");
        Assert.True(code == 0, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("ir_se", root.GetProperty("arch").GetString());
        Assert.Equal("ir", root.GetProperty("target_arch").GetString());
        Assert.Equal(new[] { 1, 1, 1, 1 }, root.GetProperty("stages").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    [Fact]
    public void ExportWithoutThresholdOrPairsIsUsageError()
    {
        var (code, _, stderr) = CliProcess.Run("export", "--checkpoint", Checkpoint, "--format", "mlnet", "--out", Path.Combine(Path.GetTempPath(), "never.zip"));
        Assert.Equal(2, code);
        Assert.Contains("--threshold", stderr);
    }
}

public class CliPhotoTests
{
    [RealPhotosFact]
    public void CheckpointVerifiesRawPhotosThroughTheDetector()
    {
        var photos = Environment.GetEnvironmentVariable("XCOS_PHOTOS")!;
        var (code, stdout, stderr) = CliProcess.Run("verify", Path.Combine(photos, "opencv_basketball1.png"), Path.Combine(photos, "opencv_basketball2.png"),
            "--checkpoint", Fixtures.Path("xcos_tiny", "checkpoint.pth"), "--json");
        Assert.True(code == 0, stderr);
        var root = JsonDocument.Parse(stdout).RootElement;
        var faces = root.GetProperty("faces").EnumerateArray().ToArray();
        Assert.Equal(2, faces.Length);
        Assert.All(faces, f => Assert.Equal("ok", f.GetProperty("status").GetString()));
        Assert.Equal(5, faces[0].GetProperty("landmarks").GetArrayLength());
        Assert.InRange(root.GetProperty("score").GetSingle(), -1f, 1f);
        Assert.Equal(7, root.GetProperty("attention").GetArrayLength());
    }

    [RealPhotosFact]
    public void PhotosWithoutAFaceAreAnsweredWithAStatus()
    {
        // a fixture image of random pixels holds no face: the verdict is "no_face" with exit code 1, not a crash
        var (code, stdout, _) = CliProcess.Run("verify", Fixtures.Path("xcos_tiny", "pair2_image1.png"),
            Path.Combine(Environment.GetEnvironmentVariable("XCOS_PHOTOS")!, "opencv_basketball1.png"), "--json");
        Assert.Equal(1, code);
        var root = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal("no_face", root.GetProperty("status").GetString());
        Assert.Equal("no_face", root.GetProperty("faces")[0].GetProperty("status").GetString());
    }
}
