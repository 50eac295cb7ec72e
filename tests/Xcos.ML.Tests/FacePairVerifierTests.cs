using System.Text.Json;
using Xcos.ML.Figures;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The shared half of every verifier (reading, statuses, the per-call cache, the decision), on a tiny fake model.</summary>
public class FacePairVerifierTests
{
    /// <summary>
    /// A model over 8x8 aligned faces whose embedding is the mean colour; a face whose first byte is 13 makes it throw.
    /// It counts the faces it embeds.
    /// </summary>
    internal sealed class MeanColourVerifier(double? threshold) : FacePairVerifier<float[]>(null, false, 8, true, threshold)
    {
        public int Embedded { get; private set; }
        public override XcosVariant Variant => XcosVariant.Weights;
        public override string CosineSource => "model";
        public override string DecidedBy => "cosine";

        protected override IReadOnlyList<float[]> EmbedFaces(IReadOnlyList<RgbImage> faces)
        {
            if (faces.Any(f => f.Pixels[0] == 13)) throw new InvalidOperationException("the fake model rejects this face");
            Embedded += faces.Count;
            return faces.Select(f => Enumerable.Range(0, 3).Select(c => (float)f.Pixels.Where((_, i) => i % 3 == c).Average(b => b)).ToArray()).ToArray();
        }

        protected override string? CheckEmbedding(float[] e) => VectorMath.HasDirection(e) ? null : "zero embedding";

        protected override IReadOnlyList<FacePairScores> ScorePairs(IReadOnlyList<(float[] First, float[] Second)> pairs) =>
            pairs.Select(p =>
            {
                double c = VectorMath.Cosine(p.First, p.Second);
                return new FacePairScores(c / 2, c, [(float)c, 0, 0, 0], [1, 0, 0, 0], [(float)c, 0, 0, 0], 0);
            }).ToArray();
    }

    internal static string Png(string dir, string name, byte r, byte g, byte b, int size = 8)
    {
        var px = new byte[size * size * 3];
        for (int i = 0; i < px.Length; i += 3) (px[i], px[i + 1], px[i + 2]) = (r, g, b);
        var path = Path.Combine(dir, name);
        ImageIO.SavePng(new RgbImage(size, size, px), path);
        return path;
    }

    [Fact]
    public void VerifyMany_embeds_each_distinct_image_once_and_agrees_with_single_verification()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-core").FullName;
        var a = Png(dir, "a.png", 200, 10, 10);
        var b = Png(dir, "b.png", 10, 200, 10);
        var c = Png(dir, "c.png", 190, 30, 20);
        // more pairs than one chunk, with "a" used again after the first chunk: still embedded once
        var pairs = new List<(string, string)> { (a, b), (a, c), (b, c), (a, a) };
        for (int i = 0; i < 40; i++) pairs.Add((b, c));
        pairs.Add((c, a));
        using var v = new MeanColourVerifier(0.9);
        var many = v.VerifyMany(pairs);
        Assert.Equal(3, v.Embedded);
        Assert.Equal(pairs.Count, many.Count);
        for (int i = 0; i < 4; i++)
        {
            var one = v.Verify(pairs[i].Item1, pairs[i].Item2);
            Assert.Equal(one.Cosine, many[i].Cosine, 12);
            Assert.Equal(one.Decision, many[i].Decision);
            Assert.NotNull(one.Face1.Aligned);      // single verification keeps the faces for figures
            Assert.Null(many[i].Face1.Aligned);     // a batch does not, unless asked
        }
        Assert.Equal(1.0, many[3].Cosine, 6);
        Assert.Equal(VerificationDecision.Same, many[1].Decision);   // two reds
        Assert.Equal(VerificationDecision.Different, many[0].Decision);
        Assert.All(many, r => Assert.Equal(r.Same, r.Cosine > 0.9));
        Assert.NotNull(v.VerifyMany([(a, b)], keepFaces: true)[0].Face2.Aligned);
    }

    [Fact]
    public void Faces_that_cannot_be_used_get_a_status_and_the_pair_is_never_accepted()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-core").FullName;
        var good = Png(dir, "good.png", 120, 90, 60);
        var text = Path.Combine(dir, "notes.png");
        File.WriteAllText(text, "not an image");
        var big = Png(dir, "big.png", 120, 90, 60, size: 12);
        var black = Png(dir, "black.png", 0, 0, 0);
        var rejected = Png(dir, "rejected.png", 13, 13, 13);
        var missing = Path.Combine(dir, "missing.png");
        using var v = new MeanColourVerifier(-2);  // every usable pair would be "same"
        var r = v.VerifyMany([(good, missing), ("", good), (text, good), (good, big), (black, good), (good, rejected), (good, good)]);
        var expected = new[] { FaceStatus.MissingFile, FaceStatus.EmptyPath, FaceStatus.Undecodable, FaceStatus.ModelError, FaceStatus.ModelError, FaceStatus.ModelError };
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(r[i].IsOk);
            Assert.Equal(expected[i], r[i].Status);
            Assert.False(r[i].Same);
            Assert.Equal(VerificationDecision.Different, r[i].Decision);
            Assert.True(double.IsNaN(r[i].Xcos) && double.IsNaN(r[i].Cosine));
            Assert.Null(r[i].CosMap);
            using var json = JsonDocument.Parse(r[i].ToJson());
            Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("score").ValueKind);
            Assert.False(json.RootElement.GetProperty("same").GetBoolean());
            Assert.Throws<InvalidOperationException>(() => r[i].ToExplanationInput());
        }
        Assert.Contains("missing.png", r[0].FailureText);
        Assert.Contains("8x8", r[3].Face2.Detail);
        Assert.Contains("zero embedding", r[4].Face1.Detail);
        Assert.Contains("rejects", r[5].Face2.Detail);
        // the model's failure on one face does not take the other faces of its batch down
        Assert.Equal(FaceStatus.Ok, r[5].Face1.Status);
        Assert.True(r[6].IsOk);
        Assert.True(r[6].Same);
    }

    [Fact]
    public void Without_a_threshold_a_scored_pair_is_undecided()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-core").FullName;
        var a = Png(dir, "a.png", 200, 10, 10);
        using var v = new MeanColourVerifier(null);
        var r = v.Verify(a, a);
        Assert.True(r.IsOk);
        Assert.Equal(VerificationDecision.Undecided, r.Decision);
        Assert.False(r.Same);
        using var json = JsonDocument.Parse(r.ToJson());
        Assert.Equal("undecided", json.RootElement.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("same").ValueKind);
        Assert.False(json.RootElement.TryGetProperty("threshold", out _));
    }

    [Fact]
    public void Decoded_images_and_aligned_faces_need_no_path()
    {
        using var v = new MeanColourVerifier(0.5);
        var face = new RgbImage(8, 8, Enumerable.Repeat((byte)100, 192).ToArray());
        var r = v.Verify(face, face, "", "");
        Assert.True(r.IsOk, r.FailureText);
        Assert.True(v.VerifyAligned(face, face).IsOk);
        var report = v.Analyse(new RgbImage(9, 8), "wide");
        Assert.Equal(FaceStatus.ModelError, report.Status);
        Assert.Null(report.Aligned);
    }
}
