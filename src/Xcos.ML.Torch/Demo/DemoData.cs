using System.Security.Cryptography;
using Xcos.ML.Data;
using Xcos.ML.Data.Synthetic;
using Xcos.ML.MLNet;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The demo's image folder on disk: <c>train/</c> (only when training), <c>val/</c> (held-out identities) and
/// <c>val_pairs.tsv</c>, with the held-out pairs as pipeline rows. The held-out images are 112x112 crops laid out like
/// aligned faces, so each row carries the ArcFace template as landmarks and alignment keeps the images as they are.
/// </summary>
internal sealed class DemoData
{
    private DemoData(string root, SyntheticFaces faces, FacePairInput[] rows, string digest)
    {
        Root = root;
        Faces = faces;
        Rows = rows;
        ValidationDigest = digest;
    }

    /// <summary>Root folder (<c>OUT/data</c>).</summary>
    public string Root { get; }

    /// <summary>The generator.</summary>
    public SyntheticFaces Faces { get; }

    /// <summary>The held-out pairs in <c>val_pairs.tsv</c> order.</summary>
    public FacePairInput[] Rows { get; }

    /// <summary>The labels of <see cref="Rows"/>.</summary>
    public bool[] Same => Rows.Select(r => r.Label).ToArray();

    /// <summary>Path of <c>val_pairs.tsv</c>.</summary>
    public string PairsPath => Path.Combine(Root, "val_pairs.tsv");

    /// <summary>The training image folder (present only when written with training identities).</summary>
    public string TrainDirectory => Path.Combine(Root, "train");

    /// <summary>SHA-256 (hex) of <c>val_pairs.tsv</c> and the decoded pixels of every image it names, in file order: what the
    /// recorded accuracy was measured on (pixels, not PNG bytes, so that a different PNG encoder does not change it).</summary>
    public string ValidationDigest { get; }

    /// <summary>Writes the images of <paramref name="recipe"/> under <paramref name="root"/> and reads back the pairs.</summary>
    /// <param name="root">Folder to write to (created when missing).</param>
    /// <param name="recipe">Which identities.</param>
    /// <param name="withTraining">Also write the training identities (only <c>--train</c> needs them).</param>
    /// <param name="workers">Generator threads; null uses every core (the images do not depend on it).</param>
    /// <param name="progress">Receives (images written, images to write), from worker threads.</param>
    /// <param name="ct">Stops writing early.</param>
    public static DemoData Write(string root, DemoDataRecipe recipe, bool withTraining, int? workers, Action<int, int> progress, CancellationToken ct)
    {
        var faces = new SyntheticFaces(new SyntheticFacesOptions
        {
            Identities = recipe.Identities, ImagesPerIdentity = recipe.ImagesPerIdentity, Seed = recipe.Seed,
            ValidationFraction = recipe.ValidationFraction, ValidationPairs = recipe.ValidationPairs, Workers = workers ?? 0,
        });
        if (withTraining)
        {
            int total = recipe.Identities * recipe.ImagesPerIdentity;
            faces.WriteImageFolder(root, new Reporter(n => progress(n, total)), ct);
        }
        else
            WriteHeldOut(root, faces, progress, ct);

        var pairs = PairTsv.Parse(Path.Combine(root, "val_pairs.tsv"));
        var aligned = FacePairInput.AlignedLandmarks();
        var rows = pairs.Select(p => new FacePairInput
        {
            ImagePath1 = Path.Combine(root, p.Id1), ImagePath2 = Path.Combine(root, p.Id2),
            Landmarks1 = aligned, Landmarks2 = aligned, Label = p.Same,
        }).ToArray();
        return new DemoData(root, faces, rows, Digest(root, pairs));
    }

    /// <summary>Path relative to the data root, '/' separated (for labels in figures and the report).</summary>
    public string Relative(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');

    // Only the held-out identities and the pair file: what evaluating a trained checkpoint needs.
    private static void WriteHeldOut(string root, SyntheticFaces faces, Action<int, int> progress, CancellationToken ct)
    {
        int per = faces.Options.ImagesPerIdentity, total = faces.ValidationIdentities * per, done = 0;
        Parallel.For(0, total, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = faces.Options.Workers > 0 ? faces.Options.Workers : Environment.ProcessorCount }, k =>
        {
            var face = faces.Generate(faces.TrainIdentities + k / per, k % per);
            string path = Path.Combine(root, face.RelativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            Xcos.ML.Figures.RgbPng.WriteAtomic(path, Xcos.ML.Figures.RgbPng.EncodeRgb(face.Rgb, face.Size, face.Size));
            progress(Interlocked.Increment(ref done), total);
        });
        var text = new System.Text.StringBuilder("file1\tfile2\tsame\n");
        foreach (var p in faces.ValidationPairs())
            text.Append(faces.RelativePath(p.Identity1, p.Index1)).Append('\t').Append(faces.RelativePath(p.Identity2, p.Index2))
                .Append('\t').Append(p.Same ? '1' : '0').Append('\n');
        Xcos.ML.Figures.RgbPng.WriteAtomic(Path.Combine(root, "val_pairs.tsv"), System.Text.Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static string Digest(string root, IReadOnlyList<FacePair> pairs)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(File.ReadAllBytes(Path.Combine(root, "val_pairs.tsv")));
        foreach (var file in pairs.SelectMany(p => new[] { p.Id1, p.Id2 }).Distinct(StringComparer.Ordinal))
            sha.AppendData(Xcos.ML.Figures.RgbPng.DecodeRgb(File.ReadAllBytes(Path.Combine(root, file)), file).Rgb);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private sealed class Reporter(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
