using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Xcos.ML.Alignment;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xunit;

namespace Xcos.ML.Tests;

public class FaceAlignEstimatorTests
{
    private sealed class Row
    {
        public string Path { get; set; } = "";
        [VectorType(10)] public float[] Landmarks { get; set; } = [];
    }

    private sealed class Row68
    {
        public string Path { get; set; } = "";
        [VectorType(136)] public float[] Points { get; set; } = [];
    }

    private static float[][] CaseLandmarks()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("align_cases.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => c.GetProperty("landmarks").EnumerateArray().SelectMany(p => new[] { p[0].GetSingle(), p[1].GetSingle() }).ToArray())
            .ToArray();
    }

    private static Row[] Rows()
    {
        var lm = CaseLandmarks();
        var bad = (float[])lm[0].Clone();
        bad[4] = float.NaN;
        return [new() { Path = "align_source.png", Landmarks = lm[0] }, new() { Path = "align_source.png", Landmarks = bad },
                new() { Path = "align_source.png", Landmarks = lm[2] }];
    }

    private static IEstimator<ITransformer> Pipeline(MLContext ml, FaceAlignOptions? options = null) =>
        ml.Transforms.LoadImages("Image", Fixtures.Dir, "Path")
            .Append(options == null ? ml.Transforms.AlignFaces() : ml.Transforms.AlignFaces(options));

    private static RgbImage Direct(float[] landmarks) =>
        FaceAligner.Align(ImageIO.Load(Fixtures.Path("align_source.png")), landmarks).Face;

    [Fact]
    public void AlignsInPipelineAndReportsBadRows()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows());
        var output = Pipeline(ml).Fit(data).Transform(data);

        var status = output.GetColumn<string>("AlignStatus").ToArray();
        Assert.Equal("ok", status[0]);
        Assert.StartsWith("degenerate_landmarks:", status[1]);
        Assert.Contains("not finite", status[1]);
        Assert.Equal("ok", status[2]);

        var tensors = output.GetColumn<VBuffer<float>>("FaceTensor").Select(v => v.DenseValues().ToArray()).ToArray();
        var faces = output.GetColumn<MLImage>("AlignedFace").Select(ImageIO.FromMLImage).ToArray();
        var lm = CaseLandmarks();
        foreach (var (row, n) in new[] { (0, 0), (2, 2) })
        {
            var expected = Direct(lm[n]);
            Assert.Equal(expected.Pixels, faces[row].Pixels);
            Assert.Equal(3 * 112 * 112, tensors[row].Length);
            var want = FaceTensor.ToChw(expected);
            for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], tensors[row][i], 1e-5f);
        }
        Assert.All(faces[1].Pixels, b => Assert.Equal(0, b));
        Assert.All(tensors[1], v => Assert.Equal(-1f, v, 1e-6f));
        Assert.Null(output.Schema.GetColumnOrNull(FaceAlignColumns.Face));
    }

    [Fact]
    public void SurvivesSaveAndLoad()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows());
        var options = new FaceAlignOptions
        {
            AlignedImageColumnName = "Face", TensorColumnName = "Input", StatusColumnName = "Why",
            Tensor = new FaceTensorOptions { Mean = 127, Std = 128, ChannelOrder = ChannelOrder.Bgr, HorizontalFlip = true },
        };
        var model = Pipeline(ml, options).Fit(data);
        var before = model.Transform(data);
        var path = Path.Combine(Path.GetTempPath(), $"xcos_align_{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var ml2 = new MLContext(seed: 2);
            ml2.ComponentCatalog.RegisterAssembly(typeof(FaceAlignEstimator).Assembly);
            var loaded = ml2.Model.Load(path, out var schema);
            var after = loaded.Transform(ml2.Data.LoadFromEnumerable(Rows()));

            Assert.Equal(before.GetColumn<string>("Why").ToArray(), after.GetColumn<string>("Why").ToArray());
            var t1 = before.GetColumn<VBuffer<float>>("Input").Select(v => v.DenseValues().ToArray()).ToArray();
            var t2 = after.GetColumn<VBuffer<float>>("Input").Select(v => v.DenseValues().ToArray()).ToArray();
            for (int r = 0; r < t1.Length; r++) Assert.Equal(t1[r], t2[r]);
            var f2 = after.GetColumn<MLImage>("Face").Select(ImageIO.FromMLImage).ToArray();
            Assert.Equal(Direct(CaseLandmarks()[2]).Pixels, f2[2].Pixels);

            // The options (mean/std, BGR, flip) travel inside the saved model.
            var want = FaceTensor.ToChw(Direct(CaseLandmarks()[0]), options.Tensor);
            for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], t2[0][i], 1e-5f);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Accepts68PointLandmarks()
    {
        var five = CaseLandmarks()[1];
        var p = new float[136];
        for (int i = 0; i < 68; i++) { p[2 * i] = 100 + i; p[2 * i + 1] = 40 + i; }
        void Set(int k, float x, float y) { p[2 * k] = x; p[2 * k + 1] = y; }
        Set(36, five[0] - 5, five[1]); Set(39, five[0] + 5, five[1]);
        Set(42, five[2], five[3] - 2); Set(45, five[2], five[3] + 2);
        Set(30, five[4], five[5]); Set(48, five[6], five[7]); Set(54, five[8], five[9]);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row68 { Path = "align_source.png", Points = p } });
        var output = Pipeline(ml, new FaceAlignOptions { LandmarksColumnName = "Points" }).Fit(data).Transform(data);
        Assert.Equal("ok", output.GetColumn<string>("AlignStatus").Single());
        var face = ImageIO.FromMLImage(output.GetColumn<MLImage>("AlignedFace").Single());
        Assert.Equal(Direct(five).Pixels, face.Pixels);
    }

    private sealed class FixedSource(float[]? landmarks) : ILandmarkSource
    {
        public int Calls;
        public string? ContractName => null;
        public float[]? Detect(RgbImage image) { Interlocked.Increment(ref Calls); return landmarks; }
    }

    private sealed class PathOnly { public string Path { get; set; } = ""; }

    [Fact]
    public void LandmarkSourceFillsMissingColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new PathOnly { Path = "align_source.png" } });
        var source = new FixedSource(CaseLandmarks()[0]);
        var pipe = ml.Transforms.LoadImages("Image", Fixtures.Dir, "Path").Append(ml.Transforms.AlignFaces(source));
        var output = pipe.Fit(data).Transform(data);
        Assert.Equal("ok", output.GetColumn<string>("AlignStatus").Single());
        Assert.True(source.Calls > 0);
        Assert.Equal(Direct(CaseLandmarks()[0]).Pixels, ImageIO.FromMLImage(output.GetColumn<MLImage>("AlignedFace").Single()).Pixels);

        var none = ml.Transforms.LoadImages("Image", Fixtures.Dir, "Path").Append(ml.Transforms.AlignFaces(new FixedSource(null)));
        Assert.StartsWith("no_face: no landmarks", none.Fit(data).Transform(data).GetColumn<string>("AlignStatus").Single());
    }

    private sealed class TextLandmarks { public string Path { get; set; } = ""; public string Landmarks { get; set; } = ""; }
    private sealed class ShortLandmarks { public string Path { get; set; } = ""; [VectorType(7)] public float[] Landmarks { get; set; } = new float[7]; }

    [Fact]
    public void AnAlignedFaceSkipsTheWarpAndGivesWhatTheWarpGives()
    {
        // a 112x112 aligned face (the fixture aligned) and the same face at 224x224
        var face = Direct(CaseLandmarks()[0]);
        var big = new RgbImage(224, 224);
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++)
                Array.Copy(face.Pixels, ((y / 2) * 112 + x / 2) * 3, big.Pixels, (y * 224 + x) * 3, 3);
        var dir = Directory.CreateTempSubdirectory("xcos_aligned_").FullName;
        try
        {
            ImageIO.SavePng(face, Path.Combine(dir, "a.png"));
            ImageIO.SavePng(big, Path.Combine(dir, "b.png"));
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(new[] { new PathOnly { Path = "a.png" }, new PathOnly { Path = "b.png" } });
            var output = ml.Transforms.LoadImages("Image", dir, "Path").Append(ml.Transforms.AlignFaces(AlignedFaceLandmarks.Instance)).Fit(data).Transform(data);
            Assert.Equal(["ok", "ok"], output.GetColumn<string>("AlignStatus").ToArray());
            var faces = output.GetColumn<MLImage>("AlignedFace").Select(ImageIO.FromMLImage).ToArray();
            var decoded = ImageIO.Load(Path.Combine(dir, "a.png"));
            // 112x112: the face itself, and the identity warp it skips gives the same pixels
            Assert.Equal(decoded.Pixels, faces[0].Pixels);
            var identity = FaceAligner.EstimateMatrix(Landmarks.FromFlat(AlignedFaceLandmarks.ForSize(112, 112)));
            Assert.Equal(AffineWarp.Warp(decoded, identity, 112, 112).Pixels, faces[0].Pixels);
            // another size still goes through the warp (a resize onto the template)
            Assert.Equal(FaceAligner.Align(ImageIO.Load(Path.Combine(dir, "b.png")), AlignedFaceLandmarks.ForSize(224, 224)).Face.Pixels, faces[1].Pixels);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void WrongColumnTypesNameTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var text = ml.Data.LoadFromEnumerable(new[] { new TextLandmarks { Path = "align_source.png", Landmarks = "1,2" } });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(ml).Fit(text));
        Assert.Contains("'Landmarks'", e.Message);
        Assert.Contains("vector of Single", e.Message);

        // Path is text, not an image.
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Transforms.AlignFaces(new FaceAlignOptions { ImageColumnName = "Path" }).Fit(text));
        Assert.Contains("'Path'", e3.Message);
        Assert.Contains("MLImage", e3.Message);

        var shortLm = ml.Data.LoadFromEnumerable(new[] { new ShortLandmarks { Path = "align_source.png" } });
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(ml).Fit(shortLm));
        Assert.Contains("7", e4.Message);

        // A resized image no longer matches the landmark coordinates.
        var resized = ml.Transforms.LoadImages("Image", Fixtures.Dir, "Path").Append(ml.Transforms.ResizeImages("Image", 64, 64))
            .Append(ml.Transforms.AlignFaces());
        var e6 = Assert.Throws<ArgumentOutOfRangeException>(() => resized.Fit(ml.Data.LoadFromEnumerable(Rows())));
        Assert.Contains("'Image'", e6.Message);
        Assert.Contains("fixed-size", e6.Message);

        var e5 = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(ml, new FaceAlignOptions { LandmarksColumnName = "Nope" }).Fit(text));
        Assert.Contains("'Nope' not found", e5.Message);
    }

    /// <summary>A landmark source from outside Xcos.ML, as ILandmarkSource's remarks describe one that saves.</summary>
    public sealed class FixedLandmarks : ILandmarkSource
    {
        public const string Contract = "Xcos.ML.Tests.FixedLandmarks.v1";

        public string? ContractName => Contract;

        public float[]? Detect(RgbImage image) => CaseLandmarks()[2];
    }

    /// <summary>Its factory: the public rows and LandmarkSourceMapping are the contract it is written against.</summary>
    [CustomMappingFactoryAttribute(FixedLandmarks.Contract)]
    public sealed class FixedLandmarksFactory : CustomMappingFactory<LandmarkSourceInput, LandmarkSourceOutput>
    {
        public override Action<LandmarkSourceInput, LandmarkSourceOutput> GetMapping() => LandmarkSourceMapping.Create(new FixedLandmarks());
    }

    [Fact]
    public void ALandmarkSourceOfAnotherAssemblySavesAndLoadsThroughItsOwnFactory()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows());
        var options = new FaceAlignOptions { LandmarksColumnName = null, LandmarkSource = new FixedLandmarks() };
        var path = Path.Combine(Path.GetTempPath(), $"xcos_align_source_{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(Pipeline(ml, options).Fit(data), data.Schema, path);
            var ml2 = new MLContext(seed: 2);
            ml2.ComponentCatalog.RegisterAssembly(typeof(FaceAlignEstimator).Assembly);
            ml2.ComponentCatalog.RegisterAssembly(typeof(FixedLandmarksFactory).Assembly);
            var after = ml2.Model.Load(path, out _).Transform(ml2.Data.LoadFromEnumerable(Rows()));
            var faces = after.GetColumn<MLImage>("AlignedFace").Select(ImageIO.FromMLImage).ToArray();
            // every row is aligned with the source's landmarks, not the rows' own (row 1's are not even finite)
            Assert.All(faces, f => Assert.Equal(Direct(CaseLandmarks()[2]).Pixels, f.Pixels));
        }
        finally { File.Delete(path); }
    }
}
