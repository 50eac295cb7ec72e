using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Tests;

/// <summary>The trainer recipe for <see cref="TinyFaceSet"/> (its data lives in the shared test utilities, which know no TorchSharp).</summary>
internal static class TinyTrainer
{
    /// <summary>The smallest trainer that runs on the tiny set: IR [1,1,1,1], 8 grid channels, batch 3 (two steps per epoch), one thread.</summary>
    public static XcosTrainerOptions Options(int epochs = 2, int seed = 11) => new()
    {
        Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 8, Epochs = epochs, BatchSize = 3, Threads = 1, Seed = seed,
        ValidationFolds = 5, EvaluationBatchSize = 8,
    };
}
