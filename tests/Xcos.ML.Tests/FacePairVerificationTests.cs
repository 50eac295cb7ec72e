using System.Text.Json;
using Xcos.ML.FaceModels;
using Xcos.ML.Figures;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

public class FacePairVerificationTests
{
    private static FaceReport Face(string path, int count) =>
        new(path, FaceStatus.Ok, null, count, new FaceBox(1, 2, 30, 40), 0.9f, [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]], new RgbImage(112, 112));

    private static FacePairVerification Result(VerificationDecision decision, double? threshold) =>
        new(Face("/p/a.jpg", 3), Face("/p/b.jpg", 1), 0.4, 0.6, "model", "cosine", threshold, decision, XcosVariant.Weights,
            Enumerable.Range(0, 49).Select(i => i / 49f).ToArray(), Enumerable.Repeat(1 / 49f, 49).ToArray(), new float[49], 0.25, 12.5);

    [Fact]
    public void Json_has_one_schema_with_grids_faces_and_the_several_faces_note()
    {
        var r = Result(VerificationDecision.Same, 0.5);
        using var doc = JsonDocument.Parse(r.ToJson());
        var root = doc.RootElement;
        Assert.Equal("ok", root.GetProperty("status").GetString());
        Assert.Equal(0.4, root.GetProperty("score").GetDouble(), 12);
        Assert.Equal(0.6, root.GetProperty("cosine").GetDouble(), 12);
        Assert.Equal("model", root.GetProperty("cosine_source").GetString());
        Assert.Equal("cosine", root.GetProperty("decided_by").GetString());
        Assert.Equal("same", root.GetProperty("decision").GetString());
        Assert.True(root.GetProperty("same").GetBoolean());
        Assert.Equal(0.5, root.GetProperty("threshold").GetDouble());
        Assert.Equal("weights", root.GetProperty("xcos_variant").GetString());
        Assert.Equal(7, root.GetProperty("cos_map").GetArrayLength());
        Assert.Equal(7, root.GetProperty("cos_map")[0].GetArrayLength());
        Assert.Equal(8 / 49f, root.GetProperty("cos_map")[1][1].GetSingle());
        Assert.Equal(7, root.GetProperty("contributions").GetArrayLength());
        Assert.Equal(0.25, root.GetProperty("bias_contribution").GetDouble());
        var faces = root.GetProperty("faces");
        Assert.Equal("/p/a.jpg", faces[0].GetProperty("path").GetString());
        Assert.Equal(3, faces[0].GetProperty("face_count").GetInt32());
        Assert.Equal("3 faces found, used the largest", faces[0].GetProperty("note").GetString());
        Assert.False(faces[1].TryGetProperty("note", out _));
        Assert.Equal(4, faces[0].GetProperty("box").GetArrayLength());
        Assert.Equal(5, faces[0].GetProperty("landmarks").GetArrayLength());
        Assert.Equal(12.5, root.GetProperty("milliseconds").GetDouble());
    }

    [Fact]
    public void A_failed_pair_carries_no_number_even_when_built_with_one_and_names_every_failed_face()
    {
        var gone1 = new FaceReport("/p/gone1.jpg", FaceStatus.MissingFile, null, 0, null, null, null, null);
        var gone2 = new FaceReport("/p/gone2.jpg", FaceStatus.MissingFile, null, 0, null, null, null, null);
        // what a scorer that ran on empty faces would hand over: a perfect match
        var r = new FacePairVerification(gone1, gone2, 1.0, 1.0000001, "model", "cosine", 0.3, VerificationDecision.Same, XcosVariant.Weights,
            new float[49], new float[49], new float[49], 0.1, 1);
        Assert.True(double.IsNaN(r.Xcos) && double.IsNaN(r.Cosine) && double.IsNaN(r.DecidingScore));
        Assert.Null(r.CosMap);
        Assert.Null(r.Attention);
        Assert.Null(r.Contributions);
        Assert.Null(r.BiasContribution);
        Assert.False(r.Same);
        Assert.Equal("face1 missing_file; face2 missing_file", r.PairStatus);
        using var doc = JsonDocument.Parse(r.ToJson());
        var root = doc.RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("score").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("cosine").ValueKind);
        Assert.Equal("different", root.GetProperty("decision").GetString());
        Assert.False(root.TryGetProperty("cos_map", out _));
        Assert.Equal("face1 missing_file; face2 missing_file", root.GetProperty("pair_status").GetString());
        Assert.Equal("face2 missing_file", (Result(VerificationDecision.Same, 0.5) with { Face2 = gone2 }).PairStatus);
        Assert.Equal("ok", Result(VerificationDecision.Same, 0.5).PairStatus);
    }

    [Fact]
    public void The_figure_shows_the_verdict_and_a_report_threshold_replaces_it()
    {
        var r = Result(VerificationDecision.Same, 0.5);
        var input = r.ToExplanationInput();
        Assert.Equal("a.jpg", input.Face1Label);
        Assert.True(input.Same);
        Assert.Equal(0.5, input.Threshold);
        Assert.Equal("Contribution to the cosine", input.ExtraMapTitle);
        var png = ExplanationFigure.RenderPng(input);
        Assert.Equal(0x89, png[0]);
        // at a report's xCos threshold the verdict is xCos above it
        Assert.False(r.ToExplanationInput(threshold: 0.45).Same);
        Assert.Null(Result(VerificationDecision.Undecided, null).ToExplanationInput().Same);
    }

    [Fact]
    public void Decision_rule_is_strictly_above_the_threshold()
    {
        Assert.Equal(VerificationDecision.Same, FacePairVerification.Decide(0.51, 0.5));
        Assert.Equal(VerificationDecision.Different, FacePairVerification.Decide(0.5, 0.5));
        Assert.Equal(VerificationDecision.Undecided, FacePairVerification.Decide(0.9, null));
        Assert.Throws<ArgumentException>(() => FacePairVerification.Rows(new float[48]));
    }
}
