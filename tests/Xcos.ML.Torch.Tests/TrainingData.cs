using Xcos.ML.Data;
using Xcos.ML.Data.Synthetic;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Tests;

/// <summary>A tiny synthetic face set on disk, shared by the trainer tests: 2 training identities x 3 images, 2 held-out identities, 10 validation pairs.</summary>
public sealed class TinyFaceSet : IDisposable
{
    public TinyFaceSet()
    {
        Dir = Path.Combine(Path.GetTempPath(), "xcos-train-" + Guid.NewGuid().ToString("N"));
        new SyntheticFaces(new SyntheticFacesOptions { Identities = 4, ImagesPerIdentity = 3, ValidationFraction = 0.5, ValidationPairs = 10, Seed = 3, Workers = 1 })
            .WriteImageFolder(Dir);
    }

    public string Dir { get; }
    public string TrainDir => Path.Combine(Dir, "train");
    public string PairsPath => Path.Combine(Dir, "val_pairs.tsv");
    public ImageFolder Train() => ImageFolder.Load(TrainDir);
    public PairSet Pairs() => PairSetReader.Load(PairsPath);

    /// <summary>The smallest trainer that runs on this set: IR [1,1,1,1], 8 grid channels, batch 3 (two steps per epoch), one thread.</summary>
    public static XcosTrainerOptions TinyTrainer(int epochs = 2, int seed = 11) => new()
    {
        Arch = "ir", Stages = [1, 1, 1, 1], GridChannels = 8, Epochs = epochs, BatchSize = 3, Threads = 1, Seed = seed,
        ValidationFolds = 5, EvaluationBatchSize = 8,
    };

    public string NewOutputDir() => Path.Combine(Dir, "out-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
