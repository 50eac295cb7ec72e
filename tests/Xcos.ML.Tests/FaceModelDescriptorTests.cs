using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xunit;

namespace Xcos.ML.Tests;

public class FaceModelDescriptorTests
{
    [Fact]
    public void Round_trips_through_json()
    {
        var d = new FaceModelDescriptor
        {
            Name = "m", OnnxFile = "m.onnx", InputSize = 112, ColorOrder = "bgr", Mean = 127, Scale = 1 / 128f, InputName = "in",
            EmbeddingName = "emb", FeatureMapName = "map", Threshold = 0.3743, XcosVariant = "weights", Attention = "pair", Centre = true,
            CalibrationFile = "cal.f16", ThresholdSource = "test", Source = "here",
            XcosScale = 7.25, XcosOffset = -6.125, XcosMatchCosine = true, XcosCalibrationSource = "fit pairs",
        };
        var json = d.ToJson();
        Assert.Contains("\"onnx_file\": \"m.onnx\"", json);
        Assert.Contains("\"xcos_scale\": 7.25", json);
        Assert.Contains("\"xcos_offset\": -6.125", json);
        Assert.Contains("\"xcos_match_cosine\": true", json);
        var back = FaceModelDescriptor.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(0.3743, back.Threshold);
        Assert.Equal((7.25, -6.125, true, "fit pairs"), (back.XcosScale, back.XcosOffset, back.XcosMatchCosine, back.XcosCalibrationSource));
        // a descriptor written before the calibration fields reads as uncalibrated
        var old = FaceModelDescriptor.FromJson("{\"onnx_file\": \"a.onnx\"}");
        Assert.Equal((1.0, 0.0, false), (old.XcosScale, old.XcosOffset, old.XcosMatchCosine));
        var t = back.TensorOptions();
        Assert.Equal(ChannelOrder.Bgr, t.ChannelOrder);
        Assert.Equal(128f, t.Std);
        Assert.Equal(127f, t.Mean);
    }

    [Fact]
    public void Shipped_fr_feature_descriptor_matches_fr_feature_js()
    {
        var path = FaceModelDescriptor.ShippedPath();
        Assert.True(File.Exists(path), $"shipped descriptor missing at {path}");
        var d = FaceModelDescriptor.Load(path);
        Assert.Equal("fr_feature.onnx", d.OnnxFile);
        Assert.Equal(112, d.InputSize);
        Assert.Equal("rgb", d.ColorOrder);
        // lib/fr_feature.js: (pixel - 127) / 128.
        Assert.Equal(127f, d.Mean);
        Assert.Equal(1 / 128f, d.Scale);
        Assert.InRange(d.Threshold, -1, 1);
        Assert.NotNull(d.CalibrationFile);
        var cal = Path.Combine(Path.GetDirectoryName(path)!, d.CalibrationFile!);
        var (means, cells, dim) = CellMeansFile.Read(cal);
        Assert.Equal((49, 512), (cells, dim));
        Assert.All(means, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [InlineData("{\"onnx_file\": \"\"}", "onnx_file")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"color_order\": \"rgba\"}", "color_order")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"threshold\": 2}", "threshold")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"xcos_variant\": \"trained\"}", "xcos_variant")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"scale\": 0}", "scale")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"xcos_scale\": 0}", "xcos_scale")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"xcos_scale\": -2}", "xcos_scale")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"attention\": \"energy\"}", "attention")]
    [InlineData("{\"onnx_file\": ", "not a valid")]
    public void Bad_descriptors_name_the_source_and_field(string json, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => FaceModelDescriptor.FromJson(json, "my.json"));
        Assert.Contains("my.json", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Attention_accepts_exactly_the_texts_of_the_weight_derived_attention()
    {
        // The descriptor spells the texts out (FaceModels/ does not import Explain/); they must not drift apart.
        Assert.Equal(WeightDerivedAttentionText.Map.Texts, FaceModelDescriptor.AttentionTexts);
        foreach (var text in WeightDerivedAttentionText.Map.Texts)
            Assert.Equal(text, FaceModelDescriptor.FromJson($"{{\"onnx_file\": \"a.onnx\", \"attention\": \"{text}\"}}").Attention);
    }

    [Fact]
    public void Decides_defaults_to_the_cosine_and_xcos_takes_its_own_threshold()
    {
        var old = FaceModelDescriptor.FromJson("{\"onnx_file\": \"a.onnx\", \"threshold\": 0.3}");
        Assert.Equal("cosine", old.Decides);
        Assert.False(old.DecidesByXcos);
        Assert.Equal(("cosine", 0.3), old.Decision(learnedHead: true));
        var d = FaceModelDescriptor.FromJson("{\"onnx_file\": \"a.onnx\", \"threshold\": 0.3, \"decides\": \"xcos\", \"xcos_threshold\": 0.41, \"xcos_threshold_source\": \"chosen on 4 people\"}");
        Assert.True(d.DecidesByXcos);
        Assert.Equal(("xcos", 0.41), d.Decision(learnedHead: true));
        // without the learned head (the weight-derived xCos) the cosine and its threshold decide
        Assert.Equal(("cosine", 0.3), d.Decision(learnedHead: false));
        var back = FaceModelDescriptor.FromJson(d.ToJson());
        Assert.Equal(("xcos", 0.41, "chosen on 4 people"), (back.Decides, back.XcosThreshold!.Value, back.XcosThresholdSource));
        Assert.DoesNotContain("decides_by_xcos", d.ToJson());
    }

    [Theory]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"decides\": \"xcos\"}", "xcos_threshold")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"decides\": \"both\"}", "decides")]
    [InlineData("{\"onnx_file\": \"a.onnx\", \"decides\": \"xcos\", \"xcos_threshold\": 1.5}", "xcos_threshold")]
    public void Bad_decisions_name_the_field(string json, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => FaceModelDescriptor.FromJson(json, "my.json"));
        Assert.Contains("my.json", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Shipped_models_resolve_by_name_and_others_are_listed()
    {
        Assert.Equal(FaceModelDescriptor.ShippedPath(), FaceModelDescriptor.ResolvePath("fr_feature"));
        var ex = Assert.Throws<FileNotFoundException>(() => FaceModelDescriptor.ResolvePath("no_such_model"));
        Assert.Contains("no_such_model", ex.Message);
        Assert.Contains("fr_feature", ex.Message);
    }

    [Fact]
    public void Missing_file_is_named()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => FaceModelDescriptor.Load("/nonexistent/descriptor.json"));
        Assert.Contains("/nonexistent/descriptor.json", ex.Message);
    }
}
