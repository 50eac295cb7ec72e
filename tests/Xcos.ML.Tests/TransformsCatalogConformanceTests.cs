using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.MLNet;

namespace Xcos.ML.Tests;

/// <summary>
/// <see cref="EstimatorConformance"/> on every estimator Xcos.ML adds to <c>mlContext.Transforms</c> (AlignFaces with a
/// landmark column and with a landmark source, XcosEmbedding and its pair form, ScoreXcosPairs, VerifyFacePairs with a
/// trained network and with a real face model, IdentifyFaces). EstimatorConformanceTests shows the helper failing estimators
/// that break the contract. The TorchSharp form of XcosEmbedding (XcosTrainingEmbeddingEstimator) is checked in
/// Xcos.ML.Torch.Tests: XcosEmbeddingEstimatorTests (a checkpoint) and XcosTrainingEstimatorTests (training inside Fit).
/// </summary>
public class TransformsCatalogConformanceTests
{
    private static readonly System.Reflection.Assembly Library = typeof(FaceAlignEstimator).Assembly;

    private sealed class ImageRow
    {
        public string Path { get; set; } = "";
        [VectorType(10)] public float[] Landmarks { get; set; } = [];
    }

    private sealed class FaceRow
    {
        [VectorType(3, 112, 112)] public float[] FaceTensor { get; set; } = [];
    }

    private sealed class FacePairRow
    {
        [VectorType(3, 112, 112)] public float[] FaceTensor1 { get; set; } = [];
        [VectorType(3, 112, 112)] public float[] FaceTensor2 { get; set; } = [];
    }

    private sealed class GridPairRow
    {
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid1 { get; set; } = [];
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid2 { get; set; } = [];
        public bool Label { get; set; }
    }

    private sealed class PathRow { public string Path { get; set; } = ""; }

    private static float[][] FixtureLandmarks()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("align_cases.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => c.GetProperty("landmarks").EnumerateArray().SelectMany(p => new[] { p[0].GetSingle(), p[1].GetSingle() }).ToArray())
            .Take(2).ToArray();
    }

    [Fact]
    public void AlignFaces_with_a_landmark_column()
    {
        var ml = new MLContext(seed: 1);
        var rows = FixtureLandmarks().Select(l => new ImageRow { Path = "align_source.png", Landmarks = l }).ToArray();
        var raw = ml.Data.LoadFromEnumerable(rows);
        var load = ml.Transforms.LoadImages("Image", Fixtures.Dir, "Path");
        var output = EstimatorConformance.Check(ml, ml.Transforms.AlignFaces(), raw, new()
        {
            Upstream = load,
            RequiredColumns = ["Image", "Landmarks"],
            LaxTransformerColumns = new Dictionary<string, string>
            {
                ["Landmarks"] = "the saved alignment mapping takes a landmark vector of any size (10 and 136 are both valid), so a wrong count is a row status",
            },
            Assemblies = [Library],
        });
        Assert.Equal(["ok", "ok"], output.GetColumn<string>("AlignStatus"));
        var data = load.Fit(raw).Transform(raw);
        var eleven = ReplacedColumnView.AsSingleVector(data, "Landmarks", 11);
        Assert.All(ml.Transforms.AlignFaces().Fit(data).Transform(eleven).GetColumn<string>("AlignStatus"), s => Assert.NotEqual("ok", s));
    }

    [Fact]
    public void AlignFaces_with_a_landmark_source()
    {
        var ml = new MLContext(seed: 1);
        var rows = new[] { new PathRow { Path = "pair0_image1.png" }, new PathRow { Path = "pair1_image2.png" } };
        var output = EstimatorConformance.Check(ml, ml.Transforms.AlignFaces(AlignedFaceLandmarks.Instance), ml.Data.LoadFromEnumerable(rows), new()
        {
            Upstream = ml.Transforms.LoadImages("Image", Fixtures.Path("xcos_tiny"), "Path"),
            RequiredColumns = ["Image"],
            Assemblies = [Library],
        });
        Assert.Equal(["ok", "ok"], output.GetColumn<string>("AlignStatus"));
    }

    [Fact]
    public void XcosEmbedding()
    {
        var ml = new MLContext(seed: 1);
        var faces = TinyXcos.Faces(2, 3).Select(f => new FaceRow { FaceTensor = f }).ToArray();
        var estimator = ml.Transforms.XcosEmbedding(new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel });
        var output = EstimatorConformance.Check(ml, estimator, ml.Data.LoadFromEnumerable(faces), new() { RequiredColumns = ["FaceTensor"] });
        Assert.Equal(TinyXcos.GridSize, ((VectorDataViewType)output.Schema["Grid"].Type).Size);
    }

    [Fact]
    public void XcosEmbedding_for_a_pair()
    {
        var ml = new MLContext(seed: 1);
        var faces = TinyXcos.Faces(2, 5);
        var estimator = XcosEmbeddingEstimator.ForPair(ml.Transforms, new XcosEmbeddingOptions { ModelBytes = TinyXcos.EmbeddingModel });
        var output = EstimatorConformance.Check(ml, estimator, ml.Data.LoadFromEnumerable([new FacePairRow { FaceTensor1 = faces[0], FaceTensor2 = faces[1] }]),
            new() { RequiredColumns = ["FaceTensor1", "FaceTensor2"] });
        Assert.NotNull(output.Schema.GetColumnOrNull("Grid2"));
    }

    [Fact]
    public void ScoreXcosPairs()
    {
        var ml = new MLContext(seed: 1);
        var faces = TinyXcos.Faces(4, 7);
        var grids = TinyXcos.Run(TinyXcos.EmbeddingModel, ("image", faces.SelectMany(f => f).ToArray(), [4, 3, 112, 112]))["grid"];
        var rows = new[]
        {
            new GridPairRow { Grid1 = TinyXcos.Row(grids, TinyXcos.GridSize, 0), Grid2 = TinyXcos.Row(grids, TinyXcos.GridSize, 1), Label = true },
            new GridPairRow { Grid1 = TinyXcos.Row(grids, TinyXcos.GridSize, 1), Grid2 = TinyXcos.Row(grids, TinyXcos.GridSize, 2), Label = false },
            new GridPairRow { Grid1 = TinyXcos.Row(grids, TinyXcos.GridSize, 2), Grid2 = TinyXcos.Row(grids, TinyXcos.GridSize, 3), Label = true },
        };
        // The threshold is learned from Label, so the saved Expression and Platt stages are part of the round trip.
        var estimator = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights });
        var output = EstimatorConformance.Check(ml, estimator, ml.Data.LoadFromEnumerable(rows), new()
        {
            RequiredColumns = ["Grid1", "Grid2"],
            Assemblies = [Library],
        });
        Assert.All(output.GetColumn<float>("Xcos"), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void VerifyFacePairs_with_a_trained_network()
    {
        var ml = new MLContext(seed: 1);
        var rows = new[]
        {
            new PhotoPair { ImagePath1 = "pair0_image1.png", ImagePath2 = "pair0_image2.png", Label = true },
            new PhotoPair { ImagePath1 = "pair1_image1.png", ImagePath2 = "pair2_image2.png", Label = false },
        };
        var estimator = ml.Transforms.VerifyFacePairs(new XcosPipelineOptions
        {
            Weights = TinyXcos.Weights, Aligned = true, ImageFolder = Fixtures.Path("xcos_tiny"), Threshold = 0.5f,
        });
        const string lax = "with an ImageFolder the saved model joins folder and path in an Expression stage, which ML.NET does not type-check at Transform";
        var output = EstimatorConformance.Check(ml, estimator, ml.Data.LoadFromEnumerable(rows), new()
        {
            RequiredColumns = ["ImagePath1", "ImagePath2"],
            LaxTransformerColumns = new Dictionary<string, string> { ["ImagePath1"] = lax, ["ImagePath2"] = lax },
            Assemblies = [Library],
        });
        Assert.Equal(["ok", "ok"], output.GetColumn<string>("Status"));
    }

    [DevFacesFact]
    public void VerifyFacePairs_with_a_real_face_model()
    {
        var ml = new MLContext(seed: 1);
        var all = DevFaces.Pairs();
        var rows = all.Where(p => p.Label).Take(1).Concat(all.Where(p => !p.Label).Take(1)).ToArray();
        var estimator = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions { FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = RealFaces.ModelsDir() });
        var output = EstimatorConformance.Check(ml, estimator, ml.Data.LoadFromEnumerable(rows), new()
        {
            RequiredColumns = ["ImagePath1", "ImagePath2"],
            Assemblies = [Library],
        });
        Assert.Equal(["ok", "ok"], output.GetColumn<string>("Status"));
    }

    [RealModelsFact]
    public void IdentifyFaces()
    {
        // the stage opens its face model from ModelStore's folder, as a loaded model would
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("XCOS_MODELS"))) Environment.SetEnvironmentVariable("XCOS_MODELS", RealFaces.ModelsDir());
        var root = Path.Combine(DevFaces.Root, "photos");
        var people = Directory.GetDirectories(root).Order(StringComparer.Ordinal).Take(2).ToArray();
        string Photo(string person, int i) => Directory.GetFiles(person).Order(StringComparer.Ordinal).ElementAt(i);
        var gallery = Path.Combine(Directory.CreateTempSubdirectory("xcos-conformance").FullName, "g.gallery");
        using (var encoder = new OnnxFaceEncoder(RealFaces.ModelsDir(), intraOpThreads: 1))
        using (var g = FaceGallery.Create(gallery, encoder.Model))
        {
            var id = new FaceIdentifier(encoder, g);
            foreach (var p in people) Assert.Equal("ok", id.EnrollFile(Path.GetFileName(p), Photo(p, 0)).Status);
        }
        var ml = new MLContext(seed: 1);
        var rows = people.Select(p => new PathRow { Path = Photo(p, 1) }).ToArray();
        var output = EstimatorConformance.Check(ml, ml.Transforms.IdentifyFaces(gallery), ml.Data.LoadFromEnumerable(rows), new()
        {
            Upstream = ml.Transforms.LoadImages("Image", null, "Path"),
            RequiredColumns = ["Image"],
            Assemblies = [Library],
        });
        Assert.Equal(people.Select(Path.GetFileName), output.GetColumn<string>("Identity"));
    }
}
