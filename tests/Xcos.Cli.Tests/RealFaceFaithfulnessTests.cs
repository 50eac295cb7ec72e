using Xcos.Cli.Benchmarks;
using Xcos.ML.Alignment;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;
using Xcos.ML.Onnx;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.Cli.Tests;

/// <summary>A tiny ONNX "face model" in the form of fr_feature: patch conv (stride 16) -> Relu = 4x7x7 map -> depthwise 7x7 -> 1x1 conv.</summary>
public sealed class TinyFaceModel : IDisposable
{
    public const int C = 8, D = 6, FocusCell = 17;  // row 2, col 3

    public TinyFaceModel()
    {
        var r = new Random(4);
        float Rand(double s = 1) => (float)((r.NextDouble() * 2 - 1) * s);
        var b = new OnnxGraphBuilder();
        var x = b.AddInput("input", [-1, 3, 112, 112]);
        var conv = b.Conv(x, b.Initializer("pw", Enumerable.Range(0, C * 3 * 16 * 16).Select(_ => Rand(0.1)).ToArray(), [C, 3, 16, 16]),
            b.Initializer("pb", Enumerable.Repeat(0.3f, C).ToArray(), [C]), stride: 16);
        var map = b.Relu(conv, "map");
        // The embedding looks almost only at one cell, so a faithful explanation must rank that cell first.
        var dw = new float[C * 49];
        for (int ch = 0; ch < C; ch++)
            for (int cell = 0; cell < 49; cell++) dw[ch * 49 + cell] = cell == FocusCell ? 1f + Rand(0.2) : Rand(0.01);
        var red = b.Conv(map, b.Initializer("dw", dw, [C, 1, 7, 7]), b.Initializer("dwb", Enumerable.Range(0, C).Select(_ => Rand(0.01)).ToArray(), [C]), group: C);
        var lin = b.Conv(red, b.Initializer("lw", Enumerable.Range(0, D * C).Select(_ => Rand()).ToArray(), [D, C, 1, 1]),
            b.Initializer("lb", Enumerable.Range(0, D).Select(_ => Rand(0.01)).ToArray(), [D]));
        var y = b.Reshape(lin, [-1, D]);
        b.AddOutput(y, "output", [-1, D]);
        Dir = Directory.CreateTempSubdirectory("xcos_tinyface_").FullName;
        var path = Path.Combine(Dir, "tiny.onnx");
        File.WriteAllBytes(path, OnnxModelFile.FromModel(b.Build()).ToBytes());
        var descriptor = new FaceModelDescriptor
        {
            Name = "tiny", OnnxFile = "tiny.onnx", InputSize = 112, InputName = "input", EmbeddingName = "output", FeatureMapName = "map",
            Threshold = 0.5, Centre = false,
        };
        Embedder = new OnnxFaceEmbedder(descriptor, path);
        Head = WeightDerivedHead.Extract(Embedder.Model, Embedder.FeatureMapName, Embedder.EmbeddingName);
        Xcos = new WeightDerivedXcos(Head, null, new WeightDerivedXcosOptions { Centre = false });
    }

    public string Dir { get; }
    public OnnxFaceEmbedder Embedder { get; }
    public WeightDerivedHead Head { get; }
    public WeightDerivedXcos Xcos { get; }

    /// <summary>A smooth random 112x112 "face"; with noise > 0, a noisy copy of <paramref name="like"/>.</summary>
    public static RgbImage Face(int seed, RgbImage? like = null, int noise = 0)
    {
        var r = new Random(seed);
        var img = new RgbImage(112, 112);
        double fx = 5 + r.Next(6), fy = 6 + r.Next(6), ph = r.NextDouble() * 6;
        for (int y = 0; y < 112; y++)
            for (int x = 0; x < 112; x++)
                for (int c = 0; c < 3; c++)
                {
                    int i = (y * 112 + x) * 3 + c;
                    double v = like is not null ? like.Pixels[i] + r.Next(-noise, noise + 1)
                        : 128 + 70 * Math.Sin(x / fx + c + ph) * Math.Cos(y / fy - c);
                    img.Pixels[i] = (byte)Math.Clamp(v, 0, 255);
                }
        return img;
    }

    public void Dispose()
    {
        Embedder.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}

public class RealFaceFaithfulnessTests : IClassFixture<TinyFaceModel>
{
    private readonly TinyFaceModel _m;

    public RealFaceFaithfulnessTests(TinyFaceModel m) => _m = m;

    [Fact]
    public void Pair_scorer_returns_the_models_cosine_first_and_the_weight_derived_xcos()
    {
        var a = TinyFaceModel.Face(1);
        var b = TinyFaceModel.Face(2);
        var c = TinyFaceModel.Face(3, a, 20);
        var scorer = new RealFaceScoring(_m.Embedder, _m.Xcos, batchSize: 2);
        Assert.Equal(["cosine", "xcos"], scorer.ScoreNames);
        var s = scorer.Score([a, a, c], [b, c, b]);  // `a` repeated by reference: embedded once
        var e = _m.Embedder.Embed([a, b, c]);
        double[] cos = [VectorMath.Cosine(e[0].Embedding, e[1].Embedding), VectorMath.Cosine(e[0].Embedding, e[2].Embedding), VectorMath.Cosine(e[2].Embedding, e[1].Embedding)];
        for (int i = 0; i < 3; i++) Assert.Equal(cos[i], s[0][i], 5);
        Assert.Equal(_m.Xcos.Explain(e[0].FeatureMap, e[2].FeatureMap).Xcos, s[1][1], 5);
        Assert.True(s[0][1] > s[0][0], "a noisy copy should be closer than another face");
        Assert.Throws<ArgumentException>(() => scorer.Score([a], [b, c]));
    }

    [Fact]
    public void Explanations_are_cos_times_attention_the_exact_contributions_and_grad_cam_of_the_cosine()
    {
        var a = TinyFaceModel.Face(1);
        var b = TinyFaceModel.Face(5, a, 25);
        var grads = new AffineHeadScorer(_m.Head);
        var ex = RealFaceFaithfulness.Explain(_m.Embedder, _m.Xcos, grads, a, b, face: 2);
        Assert.Equal(["xcos", "contribution", "gradcam"], ex.Select(e => e.Method));
        var e = _m.Embedder.Embed([a, b]);
        var w = _m.Xcos.Explain(e[0].FeatureMap, e[1].FeatureMap);
        Assert.Equal(w.CosMap.Zip(w.Attention, (p, q) => p * q), ex[0].Map);
        Assert.Equal(w.Contributions, ex[1].Map);
        Assert.Equal(GradCam.Compute(grads, e[0].FeatureMap, e[1].FeatureMap).Cam2, ex[2].Map);
        // The embedding looks at one cell: both xCos orders must rank it first. (Grad-CAM need not: it averages the
        // gradient over cells, so it drops the head's spatial weighting and ranks cells by activation.)
        Assert.Equal(TinyFaceModel.FocusCell, FaithfulnessCurves.Descending(ex[0].Map)[0]);
        Assert.Equal(TinyFaceModel.FocusCell, FaithfulnessCurves.Descending(ex[1].Map)[0]);
    }

    [Fact]
    public void Deletion_in_contribution_order_drops_the_cosine_faster_than_random()
    {
        var a = TinyFaceModel.Face(7);
        var b = TinyFaceModel.Face(8, a, 15);
        var o = new RealFaceFaithfulnessOptions { Curves = new FaithfulnessOptions { PatchesPerStep = 7, RandomOrders = 4 } };
        var res = RealFaceFaithfulness.EvaluatePairs(_m.Embedder, _m.Xcos, [(a, b)], o);
        var r = Assert.Single(res);
        foreach (var method in new[] { "xcos", "contribution", "gradcam", "random" })
            foreach (var kind in new[] { FaithfulnessKind.Deletion, FaithfulnessKind.Insertion })
                foreach (var score in new[] { "cosine", "xcos" })
                    Assert.NotNull(r.Find(method, kind, score));
        var e = _m.Embedder.Embed([a, b]);
        var del = r.Find("contribution", FaithfulnessKind.Deletion, "cosine")!;
        Assert.Equal(VectorMath.Cosine(e[0].Embedding, e[1].Embedding), del.Scores[0], 5);
        Assert.Equal(8, del.Scores.Length);
        double random = r.Find("random", FaithfulnessKind.Deletion, "cosine")!.Auc;
        Assert.True(del.Auc < random - 0.02, $"contribution deletion AUC {del.Auc} is not below random {random}");
        var summary = FaithfulnessSummary.From(res);
        var png = FaithfulnessCurvePlot.RenderPng(summary, FaithfulnessKind.Deletion, "cosine");
        Assert.True(png.Length > 1000);
        Assert.Contains("'nope'", Assert.Throws<ArgumentException>(() => FaithfulnessCurvePlot.RenderPng(summary, FaithfulnessKind.Deletion, "nope")).Message);
        Assert.Contains("contribution", RealFaceFaithfulness.FormatTable(summary));
    }

    [Fact]
    public void Grid_other_than_the_models_map_is_refused()
    {
        var a = TinyFaceModel.Face(1);
        var o = new RealFaceFaithfulnessOptions { Curves = new FaithfulnessOptions { Grid = 8 } };
        Assert.Contains("7x7", Assert.Throws<ArgumentException>(() => RealFaceFaithfulness.EvaluatePairs(_m.Embedder, _m.Xcos, [(a, a)], o)).Message);
    }

    [Fact]
    public void Pair_lines_skip_header_and_comments_and_name_bad_lines()
    {
        var rows = RealFaceFaithfulness.ParsePairLines("p.tsv", ["file1\tfile2\tsame", "# note", "", "a.jpg\ta.jpg\t1", "a.jpg\tb.jpg\tfalse"]);
        Assert.Equal([(4, "a.jpg", "a.jpg", true), (5, "a.jpg", "b.jpg", false)], rows);
        var ex = Assert.Throws<InvalidDataException>(() => RealFaceFaithfulness.ParsePairLines("p.tsv", ["a\tb\t1", "a\tb"]));
        Assert.Contains("p.tsv: line 2", ex.Message);
        ex = Assert.Throws<InvalidDataException>(() => RealFaceFaithfulness.ParsePairLines("p.tsv", ["a\tb\t1", "a\tb\tmaybe"]));
        Assert.Contains("'maybe'", ex.Message);
    }

    [Fact]
    public void Augmented_alignment_is_seeded_and_without_augmentation_is_the_plain_alignment()
    {
        var photo = TinyFaceModel.Face(11);
        (double X, double Y)[] lm = [(38.3, 51.7), (73.5, 51.5), (56.0, 71.7), (41.5, 92.4), (70.7, 92.2)];
        var plain = RealFaceFaithfulness.AlignAugmented(photo, lm, 112, null, 0);
        Assert.Equal(FaceAligner.Align(photo, lm).Face.Pixels, plain.Pixels);
        var aug = new FaceAugmentationOptions();
        var a1 = RealFaceFaithfulness.AlignAugmented(photo, lm, 112, aug, 1);
        Assert.Equal(a1.Pixels, RealFaceFaithfulness.AlignAugmented(photo, lm, 112, aug, 1).Pixels);
        Assert.NotEqual(a1.Pixels, RealFaceFaithfulness.AlignAugmented(photo, lm, 112, aug, 2).Pixels);
        Assert.NotEqual(a1.Pixels, plain.Pixels);
        Assert.Throws<ArgumentOutOfRangeException>(() => RealFaceFaithfulness.AlignAugmented(photo, lm, 112, new FaceAugmentationOptions { MaxShift = -1 }, 1));
    }

    [RealPhotoFact]
    public void Real_photos_load_as_augmented_pairs_and_give_curves_that_start_at_the_models_cosine()
    {
        var dir = Path.GetDirectoryName(RealFaces.Photo("faceapi_sample1.jpg"))!;
        var tsv = Path.Combine(_m.Dir, "pairs.tsv");
        File.WriteAllLines(tsv, ["photo1\tphoto2\tsame", "faceapi_sample1.jpg\tfaceapi_sample1.jpg\t1", "faceapi_sample1.jpg\tfaceapi_sample2.jpg\t0"]);
        using var v = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = RealFaces.ModelsDir() });
        var o = new RealFaceFaithfulnessOptions { Curves = new FaithfulnessOptions { PatchesPerStep = 7, RandomOrders = 1 } };
        var set = RealFaceFaithfulness.LoadPairs(v, tsv, dir, o);
        Assert.Equal([true, false], set.Labels);
        Assert.NotEqual(set.Faces[0].Face1.Pixels, set.Faces[0].Face2.Pixels);  // two augmentations of one face
        var res = RealFaceFaithfulness.EvaluatePairs(v, [set.Faces[0]], o);
        var e = v.Embedder.Embed([set.Faces[0].Face1, set.Faces[0].Face2]);
        Assert.Equal(VectorMath.Cosine(e[0].Embedding, e[1].Embedding), res[0].Find("gradcam", FaithfulnessKind.Deletion, "cosine")!.Scores[0], 4);
        File.WriteAllLines(tsv, ["missing.jpg\tfaceapi_sample1.jpg\t1"]);
        Assert.Contains("missing.jpg", Assert.Throws<InvalidDataException>(() => RealFaceFaithfulness.LoadPairs(v, tsv, dir, o)).Message);
    }
}
