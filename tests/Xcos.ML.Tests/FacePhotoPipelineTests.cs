using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The raw-photo pipeline fitted once on dev-faces pairs and saved.</summary>
public sealed class FittedPhotoPipeline : IDisposable
{
    public FittedPhotoPipeline()
    {
        if (RealFaces.ModelsDir() is null || DevFaces.Dir() is null) return;
        var all = DevFaces.Pairs();
        // 12 same and 12 different pairs to fit on, 8 others to score.
        Fit = all.Where(p => p.Label).Take(12).Concat(all.Where(p => !p.Label).Take(12)).ToArray();
        Score = all.Where(p => p.Label).Skip(12).Take(4).Concat(all.Where(p => !p.Label).Skip(12).Take(4)).ToArray();
        Model = Ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions { FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = RealFaces.ModelsDir() })
            .Fit(Ml.Data.LoadFromEnumerable(Fit));
        ZipPath = Path.Combine(Path.GetTempPath(), $"xcos_photo_pipeline_{Guid.NewGuid():N}.zip");
        Ml.Model.Save(Model, Ml.Data.LoadFromEnumerable(Fit).Schema, ZipPath);
    }

    public MLContext Ml { get; } = new(seed: 1);
    public PhotoPair[] Fit { get; } = [];
    public PhotoPair[] Score { get; } = [];
    public ITransformer? Model { get; }
    public string ZipPath { get; } = "";

    public void Dispose()
    {
        if (ZipPath.Length > 0) File.Delete(ZipPath);
    }
}

public class FacePhotoPipelineTests(FittedPhotoPipeline fitted) : IClassFixture<FittedPhotoPipeline>
{
    [DevFacesFact]
    public void SavedPipelineScoresPhotosAsTheVerifierDoes()
    {
        // The saved model needs no models folder: load it in a fresh context and score.
        var loaded = new MLContext(seed: 2).Model.Load(fitted.ZipPath, out _);
        var scored = loaded.Transform(fitted.Ml.Data.LoadFromEnumerable(fitted.Score));
        var xcos = scored.GetColumn<float>("Xcos").ToArray();
        var cosine = scored.GetColumn<float>("Cosine").ToArray();
        var score = scored.GetColumn<float>("Score").ToArray();
        var predicted = scored.GetColumn<bool>("PredictedLabel").ToArray();
        var maps = scored.GetColumn<VBuffer<float>>("CosineMap").Select(v => v.DenseValues().ToArray()).ToArray();
        var att = scored.GetColumn<VBuffer<float>>("Attention").Select(v => v.DenseValues().ToArray()).ToArray();
        var contrib = scored.GetColumn<VBuffer<float>>("Contributions").Select(v => v.DenseValues().ToArray()).ToArray();
        float threshold = cosine[0] - score[0];
        using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = RealFaces.ModelsDir(), Threshold = threshold, IntraOpThreads = 1 });
        for (int i = 0; i < fitted.Score.Length; i++)
        {
            var r = verifier.Verify(fitted.Score[i].ImagePath1, fitted.Score[i].ImagePath2);
            Assert.True(r.IsOk, r.FailureText);
            Assert.True(Math.Abs(r.Cosine - cosine[i]) < 1e-4, $"pair {i}: cosine {cosine[i]} vs verifier {r.Cosine}");
            Assert.True(Math.Abs(r.Xcos - xcos[i]) < 1e-4, $"pair {i}: xCos {xcos[i]} vs verifier {r.Xcos}");
            Assert.Equal(r.Same, predicted[i]);
            for (int c = 0; c < 49; c++)
            {
                // Centred cell cosines lose digits to cancellation (float32 in the graph, double in the C# explainer), and the calibration slope (1.55) scales the difference.
                Assert.True(Math.Abs(r.CosMap![c] - maps[i][c]) < 3e-3, $"pair {i} cell {c}: cos map {maps[i][c]} vs {r.CosMap[c]}");
                Assert.True(Math.Abs(r.Attention![c] - att[i][c]) < 1e-5, $"pair {i} cell {c}: attention");
                Assert.True(Math.Abs(r.Contributions![c] - contrib[i][c]) < 1e-4, $"pair {i} cell {c}: contribution");
            }
        }
        var metrics = fitted.Ml.BinaryClassification.Evaluate(scored);
        Assert.Equal(predicted.Zip(fitted.Score, (p, s) => p == s.Label ? 1.0 : 0.0).Average(), metrics.Accuracy, 12);
    }

    [DevFacesFact]
    public void AlignedFacesSkipTheDetectorAndScoreTheSame()
    {
        var dir = Directory.CreateTempSubdirectory("xcos_aligned_").FullName;
        try
        {
            using var detector = FaceDetector.FromDirectory(RealFaces.ModelsDir()!);
            var pair = fitted.Score[0];
            string Aligned(string photo, string name)
            {
                var face = detector.DetectAndAlign(ImageIO.Load(photo)).Face!;
                var path = Path.Combine(dir, name);
                ImageIO.SavePng(face, path);
                return path;
            }
            var aligned = new PhotoPair { ImagePath1 = Aligned(pair.ImagePath1, "a.png"), ImagePath2 = Aligned(pair.ImagePath2, "b.png"), Label = pair.Label };
            var model = fitted.Ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
            {
                FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = RealFaces.ModelsDir(), Aligned = true, Threshold = 0.3f,
            }).Fit(fitted.Ml.Data.LoadFromEnumerable(new[] { aligned }));
            var fromAligned = model.Transform(fitted.Ml.Data.LoadFromEnumerable(new[] { aligned }));
            var fromPhotos = fitted.Model!.Transform(fitted.Ml.Data.LoadFromEnumerable(new[] { pair }));
            Assert.Equal("ok", fromAligned.GetColumn<string>("Status").Single());
            Assert.Equal(fromPhotos.GetColumn<float>("Cosine").Single(), fromAligned.GetColumn<float>("Cosine").Single(), 4);
            Assert.Equal(fromPhotos.GetColumn<float>("Xcos").Single(), fromAligned.GetColumn<float>("Xcos").Single(), 4);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [DevFacesFact]
    public void PhotosThatCannotBeVerifiedGetAStatus()
    {
        var dir = Directory.CreateTempSubdirectory("xcos_photo_rows_").FullName;
        try
        {
            var blank = Path.Combine(dir, "blank.png");
            ImageIO.SavePng(new RgbImage(160, 120), blank);
            var text = Path.Combine(dir, "notes.jpg");
            File.WriteAllText(text, "not a photo");
            var good = fitted.Score[0];
            var rows = new[]
            {
                good with { ImagePath2 = blank },
                good with { ImagePath1 = text },
                good with { ImagePath1 = Path.Combine(dir, "gone.jpg") },
                good with { ImagePath2 = "" },
                good,
            };
            var scored = fitted.Model!.Transform(fitted.Ml.Data.LoadFromEnumerable(rows));
            var status = scored.GetColumn<string>("Status").ToArray();
            var score = scored.GetColumn<float>("Score").ToArray();
            var predicted = scored.GetColumn<bool>("PredictedLabel").ToArray();
            string[] want = ["face2 no_face", "face1 undecodable", "face1 missing_file", "face2 empty_path"];
            for (int i = 0; i < want.Length; i++)
            {
                Assert.StartsWith(want[i], status[i]);
                Assert.True(float.IsNaN(score[i]));
                Assert.False(predicted[i]);
            }
            Assert.Equal("ok", status[^1]);
            Assert.True(predicted[^1]);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [DevFacesFact]
    public void A_failed_row_carries_no_number_and_its_status_names_every_failed_face()
    {
        var gone1 = Path.Combine(Path.GetTempPath(), $"xcos-gone-{Guid.NewGuid():N}.jpg");
        var gone2 = Path.Combine(Path.GetTempPath(), $"xcos-gone-{Guid.NewGuid():N}.jpg");
        var good = fitted.Score[0];
        var rows = new[] { good with { ImagePath1 = gone1, ImagePath2 = gone2 }, good with { ImagePath2 = gone2 }, good };
        var scored = fitted.Model!.Transform(fitted.Ml.Data.LoadFromEnumerable(rows));
        var status = scored.GetColumn<string>("Status").ToArray();
        Assert.StartsWith("face1 missing_file", status[0]);
        Assert.Contains("; face2 missing_file", status[0]);
        Assert.StartsWith("face2 missing_file", status[1]);
        foreach (var column in new[] { "Xcos", "Cosine", "Score", "Probability" })
        {
            var v = scored.GetColumn<float>(column).ToArray();
            Assert.True(float.IsNaN(v[0]) && float.IsNaN(v[1]), $"{column}: {v[0]}, {v[1]}");
            if (column != "Probability") Assert.True(float.IsFinite(v[2]), column);
        }
        foreach (var map in new[] { "CosineMap", "Attention", "Contributions" })
        {
            var v = scored.GetColumn<VBuffer<float>>(map).Select(b => b.DenseValues().ToArray()).ToArray();
            Assert.Equal(v[2].Length, v[0].Length);   // fixed length
            Assert.Equal(v[2].Length, v[1].Length);
            Assert.All(v[0].Concat(v[1]), x => Assert.True(float.IsNaN(x), map));
            Assert.All(v[2], x => Assert.True(float.IsFinite(x), map));
        }
    }

    [DevFacesFact]
    public void Fit_on_a_few_labelled_pairs_keeps_the_calibrated_threshold_and_says_so()
    {
        var scored = fitted.Model!.Transform(fitted.Ml.Data.LoadFromEnumerable(fitted.Score));
        float calibrated = (float)FaceModelDescriptor.FrFeature().Threshold;
        var cosine = scored.GetColumn<float>("Cosine").ToArray();
        var margin = scored.GetColumn<float>("Score").ToArray();
        for (int i = 0; i < cosine.Length; i++) Assert.Equal(cosine[i] - calibrated, margin[i], 5);
        var source = scored.GetColumn<string>("ThresholdSource").Distinct().Single();
        Assert.Contains("the calibrated threshold of face model fr_feature", source);
        Assert.Contains("12 same and 12 different", source);
        // the saved model says the same, and the evaluation report shows it
        var loaded = new MLContext(seed: 3).Model.Load(fitted.ZipPath, out _);
        var again = loaded.Transform(fitted.Ml.Data.LoadFromEnumerable(fitted.Score));
        Assert.Equal(source, again.GetColumn<string>("ThresholdSource").First());
        Assert.Equal(source, fitted.Ml.EvaluateVerification(again, options: new Metrics.VerificationOptions { Folds = 2 }).ThresholdSource);
    }

    [DevFacesFact]
    public void EachPhotoIsProcessedOnceAndScoresAsTheSavedModel()
    {
        var data = fitted.Ml.Data.LoadFromEnumerable(fitted.Score);
        // A fresh fit: its threshold pass reads each photo once, however many rows hold it; later passes read none.
        var fresh = Assert.IsType<FacePhotoTransformer>(fitted.Ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
        {
            FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = RealFaces.ModelsDir(),
        }).Fit(data));
        int photos = fitted.Score.SelectMany(p => new[] { p.ImagePath1, p.ImagePath2 }).Distinct().Count();
        Assert.True(photos < 2 * fitted.Score.Length, "the rows share photos");
        Assert.Equal(photos, fresh.Cache.Computed);
        var scored = fresh.Transform(data);
        var first = scored.GetColumn<float>("Score").ToArray();
        Assert.Equal(first, scored.GetColumn<float>("Score"));
        _ = fitted.Ml.BinaryClassification.Evaluate(scored);
        Assert.Equal(photos, fresh.Cache.Computed);

        // The saved model runs the same stages row by row (the face model at batch 1): the same columns and decisions, the numbers to float rounding.
        var model = fitted.Model!.Transform(data);
        var loaded = new MLContext(seed: 2).Model.Load(fitted.ZipPath, out _).Transform(data);
        Assert.Equal(loaded.GetColumn<bool>("PredictedLabel"), model.GetColumn<bool>("PredictedLabel"));
        foreach (var column in new[] { "Score", "Cosine", "Xcos", "Probability" })
        {
            var want = loaded.GetColumn<float>(column).ToArray();
            var got = model.GetColumn<float>(column).ToArray();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - got[i]) < 1e-5, $"pair {i}: {column} {got[i]} vs saved {want[i]}");
        }
        Assert.Equal(model.GetColumn<float>("Cosine"), scored.GetColumn<float>("Cosine"));
        static IEnumerable<(string, string)> Columns(IDataView v) => v.Schema.Where(c => !c.IsHidden).Select(c => (c.Name, c.Type.ToString() ?? "")).Order();
        Assert.Equal(Columns(loaded), Columns(model));
    }

    [DevFacesFact]
    public void APhotoRewrittenAtTheSamePathIsProcessedAgain()
    {
        var dir = Directory.CreateTempSubdirectory("xcos_photo_cache_").FullName;
        try
        {
            var same = fitted.Score.First(p => p.Label);
            var other = fitted.Score.First(p => !p.Label).ImagePath2;
            var b = Path.Combine(dir, "b.jpg");
            File.Copy(same.ImagePath2, b);
            var row = new[] { same with { ImagePath2 = b } };
            float Cosine(PhotoPair[] rows) => fitted.Model!.Transform(fitted.Ml.Data.LoadFromEnumerable(rows)).GetColumn<float>("Cosine").Single();
            float before = Cosine(row);
            File.Copy(other, b, overwrite: true);
            float after = Cosine(row);
            Assert.Equal(Cosine([same with { ImagePath2 = other }]), after);
            Assert.NotEqual(before, after);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [DevFacesFact]
    public void ThePhotoCacheIsBounded()
    {
        var bounded = Assert.IsType<FacePhotoTransformer>(fitted.Ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
        {
            FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = RealFaces.ModelsDir(), Threshold = 0.3f, PhotoCacheCapacity = 2,
        }).Fit(fitted.Ml.Data.LoadFromEnumerable(fitted.Score.Take(1))));
        var rows = fitted.Ml.Data.LoadFromEnumerable(fitted.Score.Take(3));
        var cosine = bounded.Transform(rows).GetColumn<float>("Cosine").ToArray();
        Assert.True(bounded.Cache.Count <= 2, $"{bounded.Cache.Count} photos held");
        Assert.Equal(fitted.Model!.Transform(rows).GetColumn<float>("Cosine"), cosine);
    }

    [DevFacesFact]
    public void TheReadmeSnippetMapsAPairsTsvOntoTheInputColumnsAndScoresThroughThePool()
    {
        // The README's "An ML.NET pipeline" snippet, step by step: a file1/file2/same TSV with paths relative to
        // ImageFolder, mapped onto ImagePath1/ImagePath2/Label by column index; Fit, Cache, Evaluate, save, and a pool
        // built from the .zip scoring a FacePairInput that names the photos as the TSV does.
        var root = DevFaces.Root;
        var lines = File.ReadAllLines(Path.Combine(root, "pairs.tsv"));
        var body = lines.Skip(1).Where(l => l.EndsWith("\t1", StringComparison.Ordinal)).Take(3)
            .Concat(lines.Skip(1).Where(l => l.EndsWith("\t0", StringComparison.Ordinal)).Take(3)).ToArray();
        var dir = Directory.CreateTempSubdirectory("xcos_readme_").FullName;
        try
        {
            var tsv = Path.Combine(dir, "pairs.tsv");
            File.WriteAllLines(tsv, body.Prepend(lines[0]));
            var ml = new MLContext(seed: 0);
            var pairs = ml.Data.LoadFromTextFile(tsv, new[]
            {
                new TextLoader.Column("ImagePath1", DataKind.String, 0),
                new TextLoader.Column("ImagePath2", DataKind.String, 1),
                new TextLoader.Column("Label", DataKind.Boolean, 2),
            }, separatorChar: '\t', hasHeader: true);
            Assert.Equal([true, true, true, false, false, false], pairs.GetColumn<bool>("Label").ToArray());

            var model = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
            {
                FaceModel = FaceModelDescriptor.FrFeature(), Xcos = XcosVariant.Weights, ImageFolder = root, ModelsDirectory = RealFaces.ModelsDir(),
            }).Fit(pairs);
            var scored = ml.Data.Cache(model.Transform(pairs));
            Assert.All(scored.GetColumn<string>("Status"), s => Assert.Equal("ok", s));
            var metrics = ml.BinaryClassification.Evaluate(scored);
            Assert.Equal(1.0, metrics.Accuracy);
            var zip = Path.Combine(dir, "verifier.zip");
            ml.Model.Save(model, pairs.Schema, zip);

            var first = body[0].Split('\t');
            using var pool = XcosPredictionPool<FacePairInput, FacePairPrediction>.Load(ml, zip);
            var prediction = pool.Predict(new FacePairInput { ImagePath1 = first[0], ImagePath2 = first[1] });
            Assert.Equal("ok", prediction.Status);
            Assert.Equal(scored.GetColumn<float>("Score").First(), prediction.Score, 1e-5f);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [DevFacesFact]
    public void AFaceModelsScoreIsItsCosineMinusTheThresholdAsTheDocSays()
    {
        // With the learned head xCos differs from the cosine, and the face model's cosine still decides.
        var model = fitted.Ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
        {
            FaceModel = FaceModelDescriptor.FrFeature(), Xcos = XcosVariant.Learned, ModelsDirectory = RealFaces.ModelsDir(), Threshold = 0.3f,
        }).Fit(fitted.Ml.Data.LoadFromEnumerable(fitted.Score.Take(1)));
        var scored = model.Transform(fitted.Ml.Data.LoadFromEnumerable(fitted.Score));
        var score = scored.GetColumn<float>("Score").ToArray();
        var cosine = scored.GetColumn<float>("Cosine").ToArray();
        var xcos = scored.GetColumn<float>("Xcos").ToArray();
        for (int i = 0; i < score.Length; i++) Assert.Equal(cosine[i] - 0.3f, score[i], 1e-6f);
        Assert.Contains(xcos.Zip(cosine), p => Math.Abs(p.First - p.Second) > 1e-3);

        // The XML doc users read (Xcos.ML.xml, next to the assembly) says so.
        var doc = System.Xml.Linq.XDocument.Load(Path.ChangeExtension(typeof(FacePairPrediction).Assembly.Location, ".xml"));
        var summary = doc.Descendants("member").Single(m => (string?)m.Attribute("name") == "P:Xcos.ML.MLNet.FacePairPrediction.Score").Value;
        Assert.Contains("Cosine - threshold", summary, StringComparison.Ordinal);
    }
}
