using System.Text.Json;
using Xcos.ML.Data;
using Xcos.ML.Figures;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Verification;
using Xcos.ML.Verification;

namespace Xcos.ML.Torch.Tests;

/// <summary>The TorchSharp checkpoint behind the verification core, on the fixture checkpoint and its four aligned pairs.</summary>
public class CheckpointFacePairVerifierTests
{
    private static readonly string Tiny = Fixtures.Path("xcos_tiny");

    private static (string, string)[] FixturePairs() =>
        Enumerable.Range(0, 4).Select(p => (Path.Combine(Tiny, $"pair{p}_image1.png"), Path.Combine(Tiny, $"pair{p}_image2.png"))).ToArray();

    [Fact]
    public void Aligned_fixture_pairs_reproduce_the_reference_scores_maps_and_target_cosine()
    {
        TorchRuntime.Configure(2);
        using var model = XcosModelLoader.Load(Path.Combine(Tiny, "checkpoint.pth"));
        using var verifier = new CheckpointFacePairVerifier(model);
        Assert.True(verifier.AlignedInput);
        var results = verifier.VerifyMany(FixturePairs());
        var xcos = Npy.Read(Path.Combine(Tiny, "xcos.npy")).AsFloat32();
        var target = Npy.Read(Path.Combine(Tiny, "target_cos.npy")).AsFloat32();
        var cos = Npy.Read(Path.Combine(Tiny, "cos_map.npy")).AsFloat32();
        var att = Npy.Read(Path.Combine(Tiny, "attention.npy")).AsFloat32();
        for (int p = 0; p < 4; p++)
        {
            var r = results[p];
            Assert.True(r.IsOk, r.FailureText);
            Assert.Equal(xcos[p], r.Xcos, 1e-4);
            Assert.Equal(target[p], r.Cosine, 1e-4);
            for (int c = 0; c < 49; c++)
            {
                Assert.Equal(cos[p * 49 + c], r.CosMap![c], 1e-4);
                Assert.Equal(att[p * 49 + c], r.Attention![c], 1e-4);
            }
            Assert.Equal("target", r.CosineSource);
            Assert.Equal("xcos", r.DecidedBy);
            Assert.Equal(XcosVariant.Checkpoint, r.Variant);
            Assert.Equal(VerificationDecision.Undecided, r.Decision);
            Assert.Null(r.Contributions);
        }
    }

    [Fact]
    public void A_threshold_decides_on_xcos_and_bad_faces_get_statuses()
    {
        TorchRuntime.Configure(2);
        using var model = XcosModelLoader.Load(Path.Combine(Tiny, "checkpoint.pth"));
        // the fixture's same pairs score .97 and .96, its different pairs .45 and .47
        using var verifier = new CheckpointFacePairVerifier(model, new CheckpointFacePairVerifierOptions { Threshold = 0.7 });
        var pairs = FixturePairs().ToList();
        pairs.Add((Path.Combine(Tiny, "missing.png"), pairs[0].Item1));
        pairs.Add((pairs[0].Item1, Fixtures.Path("align_source.png")));
        var r = verifier.VerifyMany(pairs);
        Assert.Equal([true, true, false, false, false, false], r.Select(x => x.Same));
        Assert.Equal(FaceStatus.MissingFile, r[4].Status);
        Assert.Equal(FaceStatus.ModelError, r[5].Face2.Status);
        Assert.Contains("112x112", r[5].FailureText);
        Assert.True(double.IsNaN(r[5].Xcos));
        using var doc = JsonDocument.Parse(r[0].ToJson());
        Assert.Equal("same", doc.RootElement.GetProperty("decision").GetString());
        Assert.Equal("checkpoint", doc.RootElement.GetProperty("xcos_variant").GetString());
        Assert.Equal(0x89, Figures.ExplanationFigure.RenderPng(verifier.Verify(pairs[0].Item1, pairs[0].Item2).ToExplanationInput())[0]);
    }

    [Fact]
    public void Without_a_target_backbone_the_cosine_is_the_grid_cosine()
    {
        TorchRuntime.Configure(2);
        using var model = XcosModelLoader.Load(Path.Combine(Tiny, "checkpoint.pth"), new XcosModelLoader.Overrides { TargetArch = "none" });
        using var verifier = new CheckpointFacePairVerifier(model);
        var (a, b) = FixturePairs()[0];
        var r = verifier.VerifyAligned(ImageIO.Load(a), ImageIO.Load(b));
        Assert.Equal("grid", r.CosineSource);
        var f1 = Npy.Read(Path.Combine(Tiny, "flat1.npy")).AsFloat32();
        var f2 = Npy.Read(Path.Combine(Tiny, "flat2.npy")).AsFloat32();
        int d = f1.Length / 4;
        Assert.Equal(Numerics.VectorMath.Cosine(f1.AsSpan(0, d), f2.AsSpan(0, d)), r.Cosine, 1e-4);
    }
}
