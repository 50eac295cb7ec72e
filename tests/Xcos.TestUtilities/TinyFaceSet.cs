using Xcos.ML.Data;
using Xcos.ML.Data.Synthetic;

namespace Xcos.TestUtilities;

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

    public string NewOutputDir() => Path.Combine(Dir, "out-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
