using System.Text.Json;
using Xcos.ML.Figures;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>One loaded fr_feature verifier shared by the tests (loading the models is the slow part).</summary>
public sealed class OnnxVerifierFixture : IDisposable
{
    public OnnxVerifierFixture()
    {
        if (RealFaces.ModelsDir() is { } dir)
            Verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = dir, IntraOpThreads = 1 });
    }

    public OnnxFacePairVerifier? Verifier { get; }

    /// <summary>../shared/dev-faces (real photos of 10 people with identity labels).</summary>
    public static string DevFaces => Xcos.TestUtilities.DevFaces.Root;

    /// <summary>The first <paramref name="count"/> pairs of dev-faces/pairs.tsv as full paths with their labels.</summary>
    public static (string A, string B, bool Same)[] DevPairs(int count) =>
        File.ReadLines(Path.Combine(DevFaces, "pairs.tsv")).Skip(1).Select(l => l.Split('\t'))
            .Select(f => (Path.Combine(DevFaces, f[0]), Path.Combine(DevFaces, f[1]), f[2] == "1")).Take(count).ToArray();

    public void Dispose() => Verifier?.Dispose();
}

public class OnnxFacePairVerifierTests(OnnxVerifierFixture fixture) : IClassFixture<OnnxVerifierFixture>
{
    private OnnxFacePairVerifier V => fixture.Verifier!;

    [RealModelsFact]
    public void Real_photos_of_one_person_and_of_two_people_are_told_apart_and_explained()
    {
        var pairs = OnnxVerifierFixture.DevPairs(450);
        var same = pairs.First(p => p.Same);
        var different = pairs.First(p => !p.Same);
        foreach (var (a, b, label) in new[] { same, different })
        {
            var r = V.Verify(a, b);
            Assert.True(r.IsOk, r.FailureText);
            Assert.Equal("cosine", r.DecidedBy);
            Assert.Equal("model", r.CosineSource);
            Assert.Equal(XcosVariant.Weights, r.Variant);
            Assert.Equal(V.Descriptor.Threshold, r.Threshold);
            Assert.Equal(label, r.Same);
            Assert.Equal(r.Cosine > r.Threshold, r.Same);
            Assert.Equal(49, r.CosMap!.Length);
            Assert.Equal(1.0, r.Attention!.Sum(x => (double)x), 1e-4);
            // the weight-derived contributions decompose the deciding cosine exactly
            Assert.Equal(r.Cosine, r.Contributions!.Sum(x => (double)x) + r.BiasContribution!.Value, 4);
            Assert.Equal(5, r.Face1.Landmarks!.Length);
            Assert.Equal(112, r.Face1.Aligned!.Width);
            Assert.Equal(0x89, ExplanationFigure.RenderPng(r.ToExplanationInput())[0]);
        }
    }

    [RealModelsFact]
    public void A_batch_of_dev_pairs_gives_the_single_pair_results()
    {
        var pairs = OnnxVerifierFixture.DevPairs(6);
        var many = V.VerifyMany(pairs.Select(p => (p.A, p.B)).ToArray());
        for (int i = 0; i < pairs.Length; i++)
        {
            var one = V.Verify(pairs[i].A, pairs[i].B);
            Assert.True(many[i].IsOk, many[i].FailureText);
            Assert.Equal(one.Cosine, many[i].Cosine, 5);
            Assert.Equal(one.Xcos, many[i].Xcos, 5);
            Assert.Equal(one.Decision, many[i].Decision);
        }
    }

    [RealModelsFact]
    public void Aligned_faces_verify_without_the_detector_to_the_same_numbers()
    {
        var (a, b, _) = OnnxVerifierFixture.DevPairs(1)[0];
        var photos = V.Verify(a, b);
        using var aligned = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = RealFaces.ModelsDir(), IntraOpThreads = 1, AlignedInput = true });
        Assert.Null(aligned.Detector);
        var r = aligned.Verify(photos.Face1.Aligned!, photos.Face2.Aligned!);
        Assert.Equal(photos.Cosine, r.Cosine, 5);
        Assert.Equal(photos.Xcos, r.Xcos, 5);
        Assert.Equal(FaceStatus.ModelError, aligned.Verify(a, b).Face1.Status);  // a 250x250 photo is not an aligned face
    }

    [RealModelsFact]
    public void Photos_without_a_usable_face_get_statuses_not_exceptions()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-onnx-verifier").FullName;
        var blank = Path.Combine(dir, "blank.png");
        ImageIO.SavePng(new RgbImage(200, 200), blank);
        var notImage = Path.Combine(dir, "x.jpg");
        File.WriteAllText(notImage, "text");
        var (a, _, _) = OnnxVerifierFixture.DevPairs(1)[0];
        var r = V.VerifyMany([(blank, a), (a, Path.Combine(dir, "gone.jpg")), (notImage, a), ("", a)]);
        Assert.Equal([FaceStatus.NoFace, FaceStatus.MissingFile, FaceStatus.Undecodable, FaceStatus.EmptyPath], r.Select(x => x.Status));
        Assert.All(r, x => Assert.False(x.Same));
        Assert.All(r, x => Assert.True(double.IsNaN(x.Cosine)));
        using var doc = JsonDocument.Parse(r[0].ToJson());
        Assert.Equal("no_face", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal("no_face", doc.RootElement.GetProperty("faces")[0].GetProperty("status").GetString());
        Assert.Equal("ok", doc.RootElement.GetProperty("faces")[1].GetProperty("status").GetString());
    }

    [RealModelsFact]
    public void A_photo_with_several_faces_says_the_largest_was_used()
    {
        // this LFW crop holds a second face at its border
        var photos = Path.Combine(OnnxVerifierFixture.DevFaces, "photos", "Tony_Blair");
        var r = V.Verify(Path.Combine(photos, "Tony_Blair_0001.jpg"), Path.Combine(photos, "Tony_Blair_0003.jpg"));
        Assert.True(r.IsOk, r.FailureText);
        Assert.Equal(2, r.Face1.FaceCount);
        Assert.Equal("2 faces found, used the largest", r.Face1.Note);
        Assert.Null(r.Face2.Note);
        Assert.True(r.Face1.Box!.Value.Area > 0);
    }
}
