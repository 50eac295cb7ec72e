using Xcos.ML.Metrics;
using Xcos.ML.MLNet;

namespace Xcos.ML.Tests;

/// <summary>Where a fitted threshold comes from: given, chosen on enough labels, or the calibrated one kept.</summary>
public class DecisionStagesTests
{
    private static readonly DecisionStages Stages = new("Cosine", "Score", "PredictedLabel", "Probability", "Label", "FaceStatus1", "FaceStatus2",
        XcosThresholdSelection.BestAccuracy, new VerificationOptions());

    // same pairs around 0.6, different ones around 0.1: the accuracy-best threshold lies between them
    private static (double[] Scores, bool[] Same) Pairs(int perClass)
    {
        var rng = new Random(7);
        var scores = Enumerable.Range(0, 2 * perClass).Select(i => (i < perClass ? 0.6 : 0.1) + 0.1 * (rng.NextDouble() - 0.5)).ToArray();
        return (scores, Enumerable.Range(0, 2 * perClass).Select(i => i < perClass).ToArray());
    }

    [Fact]
    public void Few_labels_keep_the_calibrated_threshold_enough_labels_choose_one()
    {
        var (few, fewSame) = Pairs(DecisionStages.MinPairsPerClass - 1);
        var (t, source) = Stages.Resolve(null, few, fewSame, 0.344f, "the calibrated threshold of face model m");
        Assert.Equal(0.344f, t);
        Assert.Contains("kept", source);
        Assert.Contains($"fewer than {DecisionStages.MinPairsPerClass} of each class", source);

        var (many, manySame) = Pairs(DecisionStages.MinPairsPerClass);
        (t, source) = Stages.Resolve(null, many, manySame, 0.344f, "the calibrated threshold of face model m");
        Assert.InRange(t, 0.1f, 0.55f);
        Assert.StartsWith($"chosen on {DecisionStages.MinPairsPerClass} same and {DecisionStages.MinPairsPerClass} different", source);

        (t, source) = Stages.Resolve(0.5f, many, manySame, 0.344f, "x");
        Assert.Equal((0.5f, "given (0.5)"), (t, source));
    }

    [Fact]
    public void Without_a_calibrated_threshold_few_labels_still_choose_and_say_how_few()
    {
        var (few, same) = Pairs(10);
        var (t, source) = Stages.Resolve(null, few, same, null, "");
        Assert.InRange(t, 0.1f, 0.55f);
        Assert.Contains("no calibrated threshold to keep", source);
    }
}
