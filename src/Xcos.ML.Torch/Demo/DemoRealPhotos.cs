using Xcos.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Figures;
using Xcos.ML.Verification;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The real-model step: when the real face models are fetched and a labelled set of real photos is at hand (a folder with
/// <c>pairs.tsv</c>, <c>file1 file2 same</c>, such as dev-faces), its first same-person and first different-person pair
/// go through the real detector, aligner and face model, whose own cosine decides while xCos explains. The real model
/// never sees the synthetic faces: they are drawings, not photographs of people, and say nothing about how it verifies people.
/// </summary>
internal static class DemoRealPhotos
{
    /// <summary>File a labelled photo folder must hold.</summary>
    public const string PairsFile = "pairs.tsv";

    /// <summary>Environment variable that may name a labelled photo folder (or a folder holding <c>dev-faces/</c>).</summary>
    public const string PhotosVariable = "XCOS_PHOTOS";

    /// <summary>Why the synthetic faces are not shown to the real model; said whenever the real part does not run on photos.</summary>
    public const string SyntheticLimit =
        "the synthetic faces are drawings, not photographs of people: the real face model was not made for them (it finds two different " +
        "drawn identities alike, above its threshold), so the demo shows the real model only on real photos";

    /// <summary>Runs the step.</summary>
    /// <param name="o">The demo's options (models folder, threads, whether to run at all).</param>
    /// <param name="photos">The labelled photo folder (<see cref="FindPhotoSet"/>), or null.</param>
    /// <param name="outputDirectory">The demo's output folder; figures go to its <c>real/</c>.</param>
    /// <param name="progress">Receives (pairs done, pairs, detail).</param>
    /// <param name="ct">Stops between pairs.</param>
    public static DemoRealFaces Run(DemoOptions o, string? photos, string outputDirectory, Action<int, int, string> progress, CancellationToken ct)
    {
        string models = ModelStore.ResolveDirectory(o.ModelsDirectory);
        if (!o.RealFaces) return new DemoRealFaces(models, photos, false, "skipped (RealFaces = false)", []);
        if (!ModelStore.IsComplete(models))
            return new DemoRealFaces(models, photos, false,
                $"real face models not found in {models}: run `xcos models fetch` (or set {ModelStore.EnvironmentVariable}) to see the real model verify labelled photos of people", []);
        if (photos is null)
            return new DemoRealFaces(models, null, false,
                $"no labelled real photos found (a folder with {PairsFile}: give --photos DIR, set {PhotosVariable}, or keep dev-faces at ../shared/dev-faces); {SyntheticLimit}", []);

        var all = PairTsv.Parse(Path.Combine(photos, PairsFile));
        var picks = new[] { all.FirstOrDefault(p => p.Same), all.FirstOrDefault(p => !p.Same) }.OfType<FacePair>().ToArray();
        string realDir = Path.Combine(outputDirectory, "real");
        Directory.CreateDirectory(realDir);
        var results = new List<DemoRealPair>();
        using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, IntraOpThreads = o.Threads ?? 0 });
        for (int k = 0; k < picks.Length; k++)
        {
            ct.ThrowIfCancellationRequested();
            var pair = picks[k];
            string p1 = Path.Combine(photos, pair.Id1), p2 = Path.Combine(photos, pair.Id2);
            var r = verifier.Verify(p1, p2);
            string? figure = null;
            if (r.IsOk)
            {
                figure = Path.Combine(realDir, $"real_pair{k}_{(pair.Same ? "same" : "different")}.png");
                ExplanationFigure.Save(figure, r.ToExplanationInput(pair.Id1, pair.Id2,
                    $"real photos, {verifier.Descriptor.OnnxFile} (labelled {(pair.Same ? "same person" : "different people")})"));
            }
            results.Add(new DemoRealPair(p1, p2, pair.Same, r, figure));
            progress(k + 1, picks.Length, "real photos through the real models");
        }
        int ok = results.Count(x => x.Verification.IsOk);
        string note = $"{ok} of {results.Count} labelled pairs of real photos from {photos} through the real detector, aligner and {verifier.Descriptor.OnnxFile}: " +
            "its own cosine decides, xCos explains; the synthetic faces are not shown to it (drawings, not photographs of people)";
        return new DemoRealFaces(models, photos, true, note, results);
    }

    /// <summary>
    /// The labelled photo folder: <paramref name="explicitDirectory"/> when given; else <c>$XCOS_PHOTOS</c> or
    /// <c>$XCOS_PHOTOS/dev-faces</c> when it holds <c>pairs.tsv</c>; else <c>shared/dev-faces</c> in the current folder or
    /// one above it, or above the application. Null when none is found.
    /// </summary>
    /// <exception cref="FileNotFoundException"><paramref name="explicitDirectory"/> has no <c>pairs.tsv</c>.</exception>
    public static string? FindPhotoSet(string? explicitDirectory)
    {
        if (explicitDirectory is not null)
        {
            string full = Path.GetFullPath(explicitDirectory);
            string pairs = Path.Combine(full, PairsFile);
            if (!File.Exists(pairs))
                throw new FileNotFoundException($"--photos {explicitDirectory}: expected {pairs} (tab separated: file1, file2, same = 1/0; paths relative to the folder)", pairs);
            return full;
        }
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(PhotosVariable) is { Length: > 0 } env)
            candidates.AddRange([env, Path.Combine(env, "dev-faces")]);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                candidates.Add(Path.Combine(d.FullName, "shared", "dev-faces"));
        return candidates.Select(Path.GetFullPath).FirstOrDefault(c => File.Exists(Path.Combine(c, PairsFile)));
    }
}
