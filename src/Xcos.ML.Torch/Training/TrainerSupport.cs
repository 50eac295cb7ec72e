using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>Pieces shared by the full and the head-only trainer.</summary>
internal static class TrainerSupport
{
    public static OptimizerHelper CreateOptimizer(IEnumerable<Parameter> parameters, OptimizerSettings s) => s.Kind switch
    {
        OptimizerKind.Sgd => torch.optim.SGD(parameters, s.LearningRate, s.Momentum, 0.0, s.WeightDecay, false, false),
        OptimizerKind.Adam => torch.optim.Adam(parameters, s.LearningRate, s.Beta1, s.Beta2, s.Epsilon, s.WeightDecay, s.Amsgrad, false),
        _ => throw new ArgumentException($"unknown optimiser {s.Kind}"),
    };

    public static void SetRate(OptimizerHelper opt, double lr)
    {
        foreach (var g in opt.ParamGroups) g.LearningRate = lr;
    }

    /// <summary>
    /// Loads the frozen target backbone: an xCos checkpoint (keys <c>backbone_target.*</c>) or a plain backbone state dict.
    /// </summary>
    public static CheckpointLoadReport LoadTarget(FaceBackbone target, string path)
    {
        var sd = XcosCheckpoint.ReadStateDict(path);
        try
        {
            const string prefix = "backbone_target.";
            bool xcos = sd.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));
            // the plain backbone has no conv1x1; a plain file may lack nothing else
            return XcosCheckpoint.Load(target, sd, new CheckpointLoadOptions { SourcePrefix = xcos ? prefix : null, Strict = true }, path);
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    public static void Seed(int seed, int epoch) => torch.manual_seed(Data.PairBatchSource.SeedFor(seed, epoch, 7_777));

    /// <summary>Selection metric: xCos 10-fold accuracy of the first validation set, else minus the training loss.</summary>
    public static double Metric(EpochResultDraft d) =>
        d.Validation.Count > 0 ? d.Validation[0].Xcos.AccuracyMean : -d.Loss;
}

/// <summary>Epoch numbers before the "best" decision.</summary>
internal sealed record EpochResultDraft(double Loss, IReadOnlyList<ValidationResult> Validation);

/// <summary>Running sums of one epoch's losses.</summary>
internal sealed class EpochSums
{
    public double Loss, Ce, Mse; public int Steps; public long Pairs;
    public double[] ToArray() => [Loss, Ce, Mse, Steps, Pairs];
    public static EpochSums From(double[] a) => a.Length == 5
        ? new EpochSums { Loss = a[0], Ce = a[1], Mse = a[2], Steps = (int)a[3], Pairs = (long)a[4] }
        : new EpochSums();
    public double Mean(double v) => Steps == 0 ? double.NaN : v / Steps;
}
