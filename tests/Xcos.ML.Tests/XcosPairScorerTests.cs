using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Metrics;
using Xcos.ML.MLNet;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>Grids and face codes of 12 pairs of the tiny random network, computed once.</summary>
public sealed class TinyPairs
{
    public const int Pairs = 12;

    public TinyPairs()
    {
        var faces = TinyXcos.Faces(2 * Pairs, 5);
        var batch = faces.SelectMany(f => f).ToArray();
        var out1 = TinyXcos.Run(TinyXcos.EmbeddingModel, ("image", batch, [2 * Pairs, 3, 112, 112]));
        Rows = Enumerable.Range(0, Pairs).Select(p => new PairRow
        {
            // Face 2p+1 is a noisy copy of face 2p; every third pair swaps in an unrelated face 2.
            Grid1 = TinyXcos.Row(out1["grid"], TinyXcos.GridSize, 2 * p),
            Grid2 = TinyXcos.Row(out1["grid"], TinyXcos.GridSize, p % 3 == 2 ? (2 * p + 3) % (2 * Pairs) : 2 * p + 1),
            FaceCode1 = TinyXcos.Row(out1["face_code"], TinyXcos.CodeSize, 2 * p),
            FaceCode2 = TinyXcos.Row(out1["face_code"], TinyXcos.CodeSize, p % 3 == 2 ? (2 * p + 3) % (2 * Pairs) : 2 * p + 1),
            Label = p % 3 != 2,
        }).ToArray();
        Head = TinyXcos.Run(TinyXcos.PairHeadModel,
            ("grid1", Rows.SelectMany(r => r.Grid1).ToArray(), [Pairs, TinyXcos.GridChannels, 7, 7]),
            ("grid2", Rows.SelectMany(r => r.Grid2).ToArray(), [Pairs, TinyXcos.GridChannels, 7, 7]));
    }

    public PairRow[] Rows { get; }

    /// <summary>The exported pair head run directly by ONNX Runtime on all pairs.</summary>
    public Dictionary<string, float[]> Head { get; }
}

public sealed class PairRow
{
    [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid1 { get; set; } = [];
    [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid2 { get; set; } = [];
    [VectorType(TinyXcos.CodeChannels, 7, 7)] public float[] FaceCode1 { get; set; } = [];
    [VectorType(TinyXcos.CodeChannels, 7, 7)] public float[] FaceCode2 { get; set; } = [];
    public bool Label { get; set; }
}

public class XcosPairScorerTests(TinyPairs pairs) : IClassFixture<TinyPairs>
{
    private sealed class GridsOnly
    {
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid1 { get; set; } = [];
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid2 { get; set; } = [];
    }

    private sealed class BadRow
    {
        [VectorType(10)] public float[] Grid1 { get; set; } = new float[10];
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid2 { get; set; } = new float[TinyXcos.GridSize];
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid3 { get; set; } = new float[TinyXcos.GridSize];
        public float Label { get; set; }
    }

    private IDataView Data(MLContext ml) => ml.Data.LoadFromEnumerable(pairs.Rows);

    private static float[][] Vectors(IDataView view, string name) =>
        view.GetColumn<VBuffer<float>>(name).Select(v => v.DenseValues().ToArray()).ToArray();

    private void AssertMatchesHead(IDataView scored)
    {
        var score = scored.GetColumn<float>("Xcos").ToArray();
        var cosine = scored.GetColumn<float>("Cosine").ToArray();
        TinyXcos.Close(pairs.Head["score"], score, 1e-5f, "score");
        TinyXcos.Close(pairs.Head["cosine"], cosine, 1e-5f, "cosine");
        var maps = Vectors(scored, "CosineMap");
        var att = Vectors(scored, "Attention");
        for (int r = 0; r < TinyPairs.Pairs; r++)
        {
            TinyXcos.Close(TinyXcos.Row(pairs.Head["cos_map"], 49, r), maps[r], 1e-5f, $"cos map {r}");
            TinyXcos.Close(TinyXcos.Row(pairs.Head["attention"], 49, r), att[r], 1e-5f, $"attention {r}");
            Assert.Equal(1.0, att[r].Sum(v => (double)v), 4);
            // xCos = sum of the cosine map weighted by attention.
            Assert.Equal(maps[r].Zip(att[r]).Sum(p => (double)p.First * p.Second), score[r], 4);
        }
    }

    [Fact]
    public void ScoresMatchThePairHeadWithAndWithoutFaceCodes()
    {
        var ml = new MLContext(seed: 1);
        var withCodes = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights, Threshold = 0.5f });
        var scored = withCodes.Fit(Data(ml)).Transform(Data(ml));
        AssertMatchesHead(scored);
        Assert.Equal(NumberDataViewType.Single, scored.Schema["Score"].Type);
        Assert.Equal(BooleanDataViewType.Instance, scored.Schema["PredictedLabel"].Type);

        // Grid columns only: the head computes the face codes itself; an ONNX head file works the same way.
        var grids = ml.Data.LoadFromEnumerable(pairs.Rows.Select(r => new GridsOnly { Grid1 = r.Grid1, Grid2 = r.Grid2 }));
        foreach (var options in new[] { new XcosPairScorerOptions { Weights = TinyXcos.Weights, Threshold = 0.5f },
                     new XcosPairScorerOptions { ModelBytes = TinyXcos.PairHeadModel, Threshold = 0.5f } })
            AssertMatchesHead(ml.Transforms.ScoreXcosPairs(options).Fit(grids).Transform(grids));
    }

    [Fact]
    public void ThresholdIsChosenFromLabelsAndSaved()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var scorer = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights });
        var model = scorer.Fit(data);
        var scored = model.Transform(data);
        var scores = scored.GetColumn<float>("Xcos").ToArray();
        var labels = pairs.Rows.Select(r => r.Label).ToArray();
        var (best, accuracy) = VerificationMetrics.BestThreshold(scores, labels, new VerificationOptions().BuildThresholds());
        Assert.Equal((float)best, scorer.ChooseThreshold(data));
        var predicted = scored.GetColumn<bool>("PredictedLabel").ToArray();
        Assert.Equal(scores.Select(s => s > (float)best).ToArray(), predicted);
        Assert.Equal(accuracy, predicted.Zip(labels).Count(p => p.First == p.Second) / (double)labels.Length);

        // ML.NET's own evaluators read the default columns. Score is the margin, so their confusion matrix (which counts
        // Score > 0) is the PredictedLabel column's, and the AUC is the exact one.
        var metrics = ml.BinaryClassification.EvaluateNonCalibrated(scored);
        Assert.Equal(VerificationMetrics.Auc(scores, labels), metrics.AreaUnderRocCurve, 6);
        Assert.Equal(accuracy, metrics.Accuracy, 10);
        var calibrated = ml.BinaryClassification.Evaluate(scored);
        Assert.Equal(accuracy, calibrated.Accuracy, 10);
        Assert.True(calibrated.LogLoss < 1, $"log-loss {calibrated.LogLoss}");
        var margins = scored.GetColumn<float>("Score").ToArray();

        var path = Path.Combine(Path.GetTempPath(), $"xcos_scorer_{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var ml2 = new MLContext(seed: 2);
            ml2.ComponentCatalog.RegisterAssembly(typeof(XcosPairScorer).Assembly);
            var after = ml2.Model.Load(path, out _).Transform(ml2.Data.LoadFromEnumerable(pairs.Rows));
            Assert.Equal(scores, after.GetColumn<float>("Xcos").ToArray());
            Assert.Equal(margins, after.GetColumn<float>("Score").ToArray());
            Assert.Equal(predicted, after.GetColumn<bool>("PredictedLabel").ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MeanFoldThresholdFollowsTheProtocol()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var options = new XcosPairScorerOptions
        {
            Weights = TinyXcos.Weights, ThresholdSelection = XcosThresholdSelection.MeanFoldThreshold,
            Verification = new VerificationOptions { Folds = 4 },
        };
        var scored = ml.Transforms.ScoreXcosPairs(options).Fit(data).Transform(data);
        var scores = scored.GetColumn<float>("Xcos").ToArray();
        var labels = pairs.Rows.Select(r => r.Label).ToArray();
        float t = (float)VerificationMetrics.KFold(scores, labels, options.Verification).ThresholdMean;
        Assert.Equal(t, ml.Transforms.ScoreXcosPairs(options).ChooseThreshold(data));
        Assert.Equal(scores.Select(s => s > t).ToArray(), scored.GetColumn<bool>("PredictedLabel").ToArray());

        // Too few pairs for 20 folds.
        options.Verification = new VerificationOptions { Folds = 20 };
        Assert.Contains("12 pairs", Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreXcosPairs(options).Fit(data)).Message);
    }

    [Fact]
    public void GivenThresholdIsComparedExactly()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var scores = pairs.Head["score"];
        // A threshold equal to a score: that pair is not "same" (score > threshold), the higher ones are.
        foreach (float t in new[] { scores[3], scores[7], 1e-7f, -0.25f, 3e5f })
        {
            var scored = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights, Threshold = t }).Fit(data).Transform(data);
            var s = scored.GetColumn<float>("Xcos").ToArray();
            Assert.Equal(s.Select(v => v > t).ToArray(), scored.GetColumn<bool>("PredictedLabel").ToArray());
        }
        Assert.Equal("0.5", XcosPairScorer.ExactDecimal(0.5f));
        Assert.Equal("-0.100000001490116119384765625", XcosPairScorer.ExactDecimal(-0.1f));
        Assert.Equal("300000.0", XcosPairScorer.ExactDecimal(3e5f));
        Assert.Equal("(x) => x - 0.25", XcosPairScorer.MarginExpression(0.25f, gated: false));
    }

    [Fact]
    public void EvaluateVerificationReportsTheProtocol()
    {
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var scored = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights, PredictedLabelColumnName = null })
            .Fit(data).Transform(data);
        Assert.Null(scored.Schema.GetColumnOrNull("PredictedLabel"));
        var options = new VerificationOptions { Folds = 3 };
        var report = ml.EvaluateVerification(scored, options: options);
        var want = VerificationMetrics.Evaluate(scored.GetColumn<float>("Score").ToArray(), pairs.Rows.Select(r => r.Label).ToArray(), options);
        Assert.Equal(want.FoldAccuracies, report.FoldAccuracies);
        Assert.Equal(want.AccuracyMean, report.AccuracyMean);
        Assert.Equal(want.Eer, report.Eer);
        Assert.Equal(want.TarAtFar1e3, report.TarAtFar1e3);
        Assert.Equal(12, report.Pairs);
        Assert.Equal(8, report.SamePairs);
        var byCosine = ml.BinaryClassification.EvaluateVerification(scored, "Label", "Cosine", options);
        Assert.Equal(VerificationMetrics.Auc(scored.GetColumn<float>("Cosine").ToArray(), pairs.Rows.Select(r => r.Label).ToArray()), byCosine.Auc);

        Assert.Contains("'Grid1' has type", Assert.Throws<ArgumentOutOfRangeException>(() => ml.EvaluateVerification(scored, "Label", "Grid1")).Message);
        Assert.Contains("'Nope' not found", Assert.Throws<ArgumentOutOfRangeException>(() => ml.EvaluateVerification(scored, "Nope")).Message);
    }

    [Fact]
    public void WrongColumnsAreNamedInTheError()
    {
        var ml = new MLContext(seed: 1);
        var bad = ml.Data.LoadFromEnumerable(new[] { new BadRow() });
        var withThreshold = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights, Threshold = 0 });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => withThreshold.Fit(bad));
        Assert.Contains("Grid 1 column 'Grid1' has type Vector<Single, 10>", e.Message);
        Assert.Contains($"expected a vector of {TinyXcos.GridSize} Single", e.Message);

        var good = ml.Data.LoadFromEnumerable(pairs.Rows.Select(r => new GridsOnly { Grid1 = r.Grid1, Grid2 = r.Grid2 }));
        var needsLabel = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights });
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => needsLabel.Fit(good));
        Assert.Contains("Label column 'Label' not found", e2.Message);
        Assert.Contains("Threshold", e2.Message);

        var floatLabel = ml.Data.LoadFromEnumerable(new[] { new BadRow() });
        var wrongLabel = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights, Grid1ColumnName = "Grid3" });
        Assert.Contains("Label column 'Label' has type Single; expected a scalar Boolean",
            Assert.Throws<ArgumentOutOfRangeException>(() => wrongLabel.Fit(floatLabel)).Message);

        // An ONNX head that takes face codes needs the face-code columns.
        var codeHead = Google.Protobuf.MessageExtensions.ToByteArray(Xcos.ML.Onnx.XcosOnnxExport.BuildPairHeadModel(TinyXcos.Weights,
            new Xcos.ML.Onnx.XcosOnnxExportOptions { PairHeadInputs = Xcos.ML.Onnx.XcosPairHeadInputs.GridsAndFaceCodes }));
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { ModelBytes = codeHead, Threshold = 0 }).Fit(good));
        Assert.Contains("Face code 1 column 'FaceCode1' not found", e3.Message);
        AssertMatchesHead(ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { ModelBytes = codeHead, Threshold = 0 }).Fit(Data(ml)).Transform(Data(ml)));

        Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { Weights = TinyXcos.Weights, Threshold = float.NaN }));
        Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions()));
        Assert.Contains("used twice", Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreXcosPairs(
            new XcosPairScorerOptions { Weights = TinyXcos.Weights, CosineColumnName = "Score" })).Message);
    }
}
