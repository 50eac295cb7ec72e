using Xcos.ML.Metrics;

namespace Xcos.ML.Torch.Training;

/// <summary>What a trainer is doing when it reports progress.</summary>
public enum TrainPhase
{
    /// <summary>Computing the frozen model's feature maps (head mode).</summary>
    Caching,
    /// <summary>Training steps.</summary>
    Training,
    /// <summary>Scoring the validation pair sets.</summary>
    Validating,
    /// <summary>An epoch finished (validation done, checkpoint written).</summary>
    EpochEnd,
}
