using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Alignment;
using Xcos.ML.Data;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;

namespace Xcos.ML.Torch.Tests;

public sealed record PairInput
{
    public string ImagePath1 { get; set; } = "";
    public string ImagePath2 { get; set; } = "";
    [VectorType(10)] public float[] Landmarks1 { get; set; } = [];
    [VectorType(10)] public float[] Landmarks2 { get; set; } = [];
    public bool Label { get; set; }
}

public sealed class PairPrediction
{
    public float Score { get; set; }
    public float Xcos { get; set; }
    public float Cosine { get; set; }
    public bool PredictedLabel { get; set; }
    public string Status { get; set; } = "";
}

/// <summary>The xcos_tiny pipeline fitted once on the four fixture pairs and saved to a .zip.</summary>
public sealed class FittedPipeline : IDisposable
{
    public FittedPipeline()
    {
        Weights = TorchOnnxExport.LoadCheckpointWeights(Fixtures.Path("xcos_tiny", "checkpoint.pth"));
        // The fixture PNGs are aligned already: the ArcFace template as landmarks makes alignment the identity.
        var template = new float[10];
        for (int i = 0; i < 5; i++) { template[2 * i] = (float)ArcFaceTemplate.Points112[i].X; template[2 * i + 1] = (float)ArcFaceTemplate.Points112[i].Y; }
        Rows = Enumerable.Range(0, 4).Select(p => new PairInput
        {
            ImagePath1 = Fixtures.Path("xcos_tiny", $"pair{p}_image1.png"),
            ImagePath2 = Fixtures.Path("xcos_tiny", $"pair{p}_image2.png"),
            Landmarks1 = template, Landmarks2 = template,
            Label = p < 2, // pairs 0 and 1 are an image and a noisy copy of it
        }).ToArray();
        var data = Ml.Data.LoadFromEnumerable(Rows);
        Model = XcosPipeline.Create(Ml.Transforms, new XcosPipelineOptions { Weights = Weights }).Fit(data);
        Scored = Model.Transform(data);
        ZipPath = Path.Combine(Path.GetTempPath(), $"xcos_pipeline_{Guid.NewGuid():N}.zip");
        Ml.Model.Save(Model, data.Schema, ZipPath);
    }

    public MLContext Ml { get; } = new(seed: 1);
    public Dictionary<string, WeightTensor> Weights { get; }
    public PairInput[] Rows { get; }
    public ITransformer Model { get; }
    public IDataView Scored { get; }
    public string ZipPath { get; }

    public void Dispose() => File.Delete(ZipPath);
}

public class PipelineTests(FittedPipeline fitted) : IClassFixture<FittedPipeline>
{
    private static float[] Fixture(string name) => Npy.Read(Fixtures.Path("xcos_tiny", name)).AsFloat32();

    private float[] Scores => fitted.Scored.GetColumn<float>("Score").ToArray();

    [Fact]
    public void ScoresMatchThePyTorchReference()
    {
        var want = Fixture("xcos.npy");
        var got = fitted.Scored.GetColumn<float>("Xcos").ToArray();
        var cosine = fitted.Scored.GetColumn<float>("Cosine").ToArray();
        var wantCosine = Fixture("target_cos.npy");
        for (int i = 0; i < 4; i++)
        {
            Assert.True(Math.Abs(want[i] - got[i]) <= 1e-4f, $"pair {i}: xCos {got[i]} vs reference {want[i]}");
            Assert.True(Math.Abs(wantCosine[i] - cosine[i]) <= 1e-4f, $"pair {i}: target cosine {cosine[i]} vs reference {wantCosine[i]}");
        }
        Assert.All(fitted.Scored.GetColumn<string>("FaceStatus1"), s => Assert.Equal("ok", s));
        Assert.All(fitted.Scored.GetColumn<string>("Status"), s => Assert.Equal("ok", s));
        var maps = fitted.Scored.GetColumn<VBuffer<float>>("CosineMap").Select(v => v.DenseValues().ToArray()).ToArray();
        var att = fitted.Scored.GetColumn<VBuffer<float>>("Attention").Select(v => v.DenseValues().ToArray()).ToArray();
        var wantMap = Fixture("cos_map.npy");
        var wantAtt = Fixture("attention.npy");
        for (int i = 0; i < 4 * 49; i++)
        {
            Assert.True(Math.Abs(maps[i / 49][i % 49] - wantMap[i]) <= 1e-4f, $"cos map value {i}");
            Assert.True(Math.Abs(att[i / 49][i % 49] - wantAtt[i]) <= 1e-4f, $"attention value {i}");
        }
        // Same pairs score above different ones, so the chosen threshold separates them.
        Assert.Equal(new[] { true, true, false, false }, fitted.Scored.GetColumn<bool>("PredictedLabel").ToArray());
        Assert.DoesNotContain(fitted.Scored.Schema, c => c.Name is "Grid1" or "FaceTensor1" or "Image1" or "TargetEmbedding1");
    }

    [Fact]
    public void ScoreIsTheMarginSoStandardMetricsAgreeWithPredictedLabel()
    {
        var score = Scores;
        var xcos = fitted.Scored.GetColumn<float>("Xcos").ToArray();
        var predicted = fitted.Scored.GetColumn<bool>("PredictedLabel").ToArray();
        var labels = fitted.Rows.Select(r => r.Label).ToArray();
        float threshold = xcos[0] - score[0];
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(xcos[i] - threshold, score[i], 1e-6f);
            Assert.Equal(score[i] > 0, predicted[i]);
        }
        double agree = predicted.Zip(labels, (p, l) => p == l ? 1.0 : 0.0).Average();
        var nonCalibrated = fitted.Ml.BinaryClassification.EvaluateNonCalibrated(fitted.Scored);
        var calibrated = fitted.Ml.BinaryClassification.Evaluate(fitted.Scored);
        Assert.Equal(agree, nonCalibrated.Accuracy, 1e-12);
        Assert.Equal(agree, calibrated.Accuracy, 1e-12);
        Assert.Equal(1.0, calibrated.F1Score, 1e-12);
        var probability = fitted.Scored.GetColumn<float>("Probability").ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(predicted[i], probability[i] > 0.5f);
        Assert.True(double.IsFinite(calibrated.LogLoss) && calibrated.LogLoss < 1, $"log-loss {calibrated.LogLoss}");
    }

    [Fact]
    public void GpuSettingsReachTheOnnxStagesOfTheTrainedNetworkPath()
    {
        var data = fitted.Ml.Data.LoadFromEnumerable(fitted.Rows);
        // this machine's ONNX Runtime has no CUDA: a GPU asked for without fallback must fail, not be dropped silently
        Assert.False(OnnxGpu.CudaAvailable);
        var e = Assert.ThrowsAny<Exception>(() => XcosPipeline.Create(fitted.Ml.Transforms, new XcosPipelineOptions { Weights = fitted.Weights, GpuDeviceId = 0 }).Fit(data).Transform(data).GetColumn<float>("Xcos").ToArray());
        Assert.Contains("FallbackToCpu", e.Message);
        var scored = XcosPipeline.Create(fitted.Ml.Transforms, new XcosPipelineOptions { Weights = fitted.Weights, GpuDeviceId = 0, FallbackToCpu = true }).Fit(data).Transform(data);
        Assert.Equal(fitted.Scored.GetColumn<float>("Xcos").ToArray(), scored.GetColumn<float>("Xcos").ToArray());
    }

    [Fact]
    public void AlignedOptionNeedsNoLandmarks()
    {
        var rows = fitted.Rows.Select(r => new AlignedPair { ImagePath1 = r.ImagePath1, ImagePath2 = r.ImagePath2, Label = r.Label }).ToArray();
        var data = fitted.Ml.Data.LoadFromEnumerable(rows);
        var scored = XcosPipeline.Create(fitted.Ml.Transforms, new XcosPipelineOptions { Weights = fitted.Weights, Aligned = true }).Fit(data).Transform(data);
        Assert.Equal(fitted.Scored.GetColumn<float>("Xcos").ToArray(), scored.GetColumn<float>("Xcos").ToArray());
        Assert.All(scored.GetColumn<string>("Status"), s => Assert.Equal("ok", s));
    }

    private sealed class AlignedPair
    {
        public string ImagePath1 { get; set; } = "";
        public string ImagePath2 { get; set; } = "";
        public bool Label { get; set; }
    }

    [Fact]
    public void OutputVectorsHaveNoBatchDimension()
    {
        var map = fitted.Scored.Schema["CosineMap"].Type as VectorDataViewType;
        Assert.NotNull(map);
        Assert.Equal([49], map!.Dimensions.ToArray());
        Assert.Equal(NumberDataViewType.Single, fitted.Scored.Schema["Score"].Type);
        Assert.Equal(NumberDataViewType.Single, fitted.Scored.Schema["Cosine"].Type);
    }

    [Fact]
    public void EachNetworkIsStoredOnceInTheZip()
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(fitted.ZipPath);
        long total = zip.Entries.Sum(e => e.Length);
        long weights = fitted.Weights.Values.Sum(w => w.Count) * 4;
        // Embedding (backbone, target backbone) and pair head once each: at most the checkpoint's weights plus a margin.
        Assert.True(total < weights * 1.3, $"the .zip holds {total} bytes for {weights} bytes of weights: something is stored twice");
    }

    [Fact]
    public void BadRowsGetAStatusAndAreNeverAccepted()
    {
        var dir = Directory.CreateTempSubdirectory("xcos_bad_rows_").FullName;
        try
        {
            var notImage = Path.Combine(dir, "not_an_image.png");
            File.WriteAllText(notImage, "this is not a PNG");
            var good = fitted.Rows[0];
            var zero = new float[10];
            var rows = new[]
            {
                good with { ImagePath1 = Path.Combine(dir, "missing.png") },
                good with { ImagePath1 = "" },
                good with { ImagePath2 = notImage },
                new PairInput { ImagePath1 = fitted.Rows[2].ImagePath1, ImagePath2 = fitted.Rows[3].ImagePath2, Landmarks1 = zero, Landmarks2 = zero, Label = false },
                good with { ImagePath1 = dir },
                fitted.Rows[3],
                good,
            };
            var want = new[] { "face1 missing_file", "face1 empty_path", "face2 undecodable", "face1 degenerate_landmarks", "face1 missing_file" };
            foreach (var model in new[] { fitted.Model, LoadedModel() })
            {
                var scored = model.Transform(fitted.Ml.Data.LoadFromEnumerable(rows));
                var status = scored.GetColumn<string>("Status").ToArray();
                var score = scored.GetColumn<float>("Score").ToArray();
                var predicted = scored.GetColumn<bool>("PredictedLabel").ToArray();
                var probability = scored.GetColumn<float>("Probability").ToArray();
                for (int i = 0; i < want.Length; i++)
                {
                    Assert.StartsWith(want[i], status[i]);
                    Assert.True(float.IsNaN(score[i]), $"row {i} ({status[i]}): score {score[i]}, expected NaN");
                    Assert.True(float.IsNaN(probability[i]), $"row {i}: probability {probability[i]}, expected NaN");
                    Assert.False(predicted[i], $"row {i} ({status[i]}) was accepted");
                }
                Assert.Equal(["ok", "ok"], status[^2..]);
                Assert.Equal([false, true], predicted[^2..]);
                // ML.NET's evaluators leave rows with a NaN score out: only the two good rows are counted.
                var metrics = fitted.Ml.BinaryClassification.EvaluateNonCalibrated(scored);
                Assert.Equal(2, metrics.ConfusionMatrix.Counts.Sum(r => r.Sum()), 0);
                Assert.Equal(1.0, metrics.Accuracy, 12);
            }
            using var engine = fitted.Ml.Model.CreatePredictionEngine<PairInput, PairPrediction>(LoadedModel());
            var p = engine.Predict(rows[0]);
            Assert.StartsWith("face1 missing_file", p.Status);
            Assert.False(p.PredictedLabel);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void A_failed_row_has_every_score_and_map_NaN_and_names_every_failed_face()
    {
        var dir = Directory.CreateTempSubdirectory("xcos_failed_rows_").FullName;
        try
        {
            var good = fitted.Rows[0];
            var rows = new[] { good with { ImagePath1 = Path.Combine(dir, "a.png"), ImagePath2 = Path.Combine(dir, "b.png") }, good with { ImagePath2 = Path.Combine(dir, "b.png") }, good };
            foreach (var model in new[] { fitted.Model, LoadedModel() })
            {
                var scored = model.Transform(fitted.Ml.Data.LoadFromEnumerable(rows));
                var status = scored.GetColumn<string>("Status").ToArray();
                Assert.StartsWith("face1 missing_file", status[0]);
                Assert.Contains("; face2 missing_file", status[0]);
                foreach (var column in new[] { "Xcos", "Cosine", "GridCosine", "Score" })
                {
                    var v = scored.GetColumn<float>(column).ToArray();
                    Assert.True(float.IsNaN(v[0]) && float.IsNaN(v[1]), $"{column}: {v[0]}, {v[1]}");
                    Assert.True(float.IsFinite(v[2]), column);
                }
                foreach (var map in new[] { "CosineMap", "Attention" })
                {
                    var v = scored.GetColumn<VBuffer<float>>(map).Select(b => b.DenseValues().ToArray()).ToArray();
                    Assert.Equal(v[2].Length, v[0].Length);
                    Assert.All(v[0].Concat(v[1]), x => Assert.True(float.IsNaN(x), map));
                    Assert.All(v[2], x => Assert.True(float.IsFinite(x), map));
                }
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private ITransformer LoadedModel() => new MLContext(seed: 5).Model.Load(fitted.ZipPath, out _);

    [Fact]
    public void PredictionEnginesAgreeAcrossThreadsAndAfterLoading()
    {
        var ml = new MLContext(seed: 3);
        ml.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
        var loaded = ml.Model.Load(fitted.ZipPath, out _);
        var before = Scores;
        var predicted = fitted.Scored.GetColumn<bool>("PredictedLabel").ToArray();
        using (var engine = ml.Model.CreatePredictionEngine<PairInput, PairPrediction>(loaded))
            for (int i = 0; i < 4; i++)
            {
                var p = engine.Predict(fitted.Rows[i]);
                Assert.Equal(before[i], p.Score);
                Assert.Equal(predicted[i], p.PredictedLabel);
            }

        // One model and PredictionEngine per thread, each disposed by its own thread: safe because no engine shares
        // its model (a default engine disposes its model; PredictionPoolTests covers one model shared by threads).
        var results = new float[8][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            var mlT = new MLContext(seed: t);
            mlT.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
            var model = mlT.Model.Load(fitted.ZipPath, out _);
            using var engine = mlT.Model.CreatePredictionEngine<PairInput, PairPrediction>(model);
            var r = new float[8];
            for (int k = 0; k < 8; k++) r[k] = engine.Predict(fitted.Rows[(k + t) % 4]).Score;
            results[t] = r;
        });
        for (int t = 0; t < 8; t++)
            for (int k = 0; k < 8; k++) Assert.Equal(before[(k + t) % 4], results[t][k]);
    }

    [Fact]
    public async Task SavedPipelineScoresInANewProcessWithoutTorchSharp()
    {
        var dll = DeployCheckProcess.Dll();
        var folder = Path.GetDirectoryName(dll)!;
        var torchFiles = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).Contains("torch", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(torchFiles.Count == 0, "DeployCheck output holds TorchSharp files: " + string.Join(", ", torchFiles));

        var tsv = Path.Combine(Path.GetTempPath(), $"xcos_pairs_{Guid.NewGuid():N}.tsv");
        string Lm(float[] v) => string.Join(",", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture)));
        File.WriteAllLines(tsv, fitted.Rows.Select(r => $"{r.ImagePath1}\t{r.ImagePath2}\t{Lm(r.Landmarks1)}\t{Lm(r.Landmarks2)}")
            .Prepend("ImagePath1\tImagePath2\tLandmarks1\tLandmarks2"));
        try
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(dll);
            psi.ArgumentList.Add(fitted.ZipPath);
            psi.ArgumentList.Add(tsv);
            using var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            Assert.True(process.WaitForExit(180_000), "DeployCheck did not finish in 180 s");
            Assert.True(process.ExitCode == 0, $"DeployCheck exited with {process.ExitCode}: {await stderr}");

            using var json = JsonDocument.Parse(stdout);
            Assert.False(json.RootElement.GetProperty("torchSharpLoaded").GetBoolean());
            var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToArray();
            Assert.Equal(4, rows.Length);
            var before = Scores;
            var cosine = fitted.Scored.GetColumn<float>("Cosine").ToArray();
            var predicted = fitted.Scored.GetColumn<bool>("PredictedLabel").ToArray();
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(before[i], float.Parse(rows[i].GetProperty("score").GetString()!, CultureInfo.InvariantCulture));
                Assert.Equal(cosine[i], float.Parse(rows[i].GetProperty("cosine").GetString()!, CultureInfo.InvariantCulture));
                Assert.Equal(predicted[i], rows[i].GetProperty("predictedLabel").GetBoolean());
                Assert.Equal("ok", rows[i].GetProperty("faceStatus2").GetString());
                Assert.Equal("ok", rows[i].GetProperty("status").GetString());
            }
        }
        finally { File.Delete(tsv); }
    }
}
