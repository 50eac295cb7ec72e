using System.Diagnostics;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Numerics;

namespace Xcos.ML.Verification;

/// <summary>Settings of <see cref="OcclusionBenchmark.Run"/>.</summary>
internal sealed class OcclusionBenchmarkOptions
{
    /// <summary>1:1 pairs wanted, half same-person (fewer when there are fewer same pairs). Default 3000.</summary>
    public int Pairs { get; set; } = 3000;

    /// <summary>Seed of the pairs, the probes and every occluder. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>1:N probes per evaluated person (photos other than its gallery photo). Default 20.</summary>
    public int ProbesPerPerson { get; set; } = 20;

    /// <summary>Identities the cosine search shortlists for re-ranking. Default 20.</summary>
    public int Shortlist { get; set; } = 20;

    /// <summary>Faces per ONNX Runtime call and pairs per head call. Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Folds of the accuracy. Default 10.</summary>
    public int Folds { get; set; } = 10;

    /// <summary>Covered fraction of the random-blob condition (the paper's masked25). Default 0.25.</summary>
    public double BlobFraction { get; set; } = 0.25;

    internal void Validate()
    {
        if (Pairs < 4) throw new ArgumentOutOfRangeException(nameof(Pairs), Pairs, "at least 4 pairs");
        if (ProbesPerPerson < 1) throw new ArgumentOutOfRangeException(nameof(ProbesPerPerson), ProbesPerPerson, "at least 1 probe per person");
        if (Shortlist < 1) throw new ArgumentOutOfRangeException(nameof(Shortlist), Shortlist, "at least 1");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "must be positive");
        if (Folds < 2) throw new ArgumentOutOfRangeException(nameof(Folds), Folds, "at least 2 folds");
        if (!(BlobFraction is > 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(BlobFraction), BlobFraction, "must be in (0, 1)");
    }
}

/// <summary>1:1 figures of one score under one condition.</summary>
/// <param name="Auc">Area under the ROC curve.</param>
/// <param name="Accuracy">Mean k-fold accuracy (threshold chosen on the other folds).</param>
/// <param name="AccuracyStd">Its standard deviation over the folds.</param>
/// <param name="TarAtFar1e3">True-accept rate at a false-accept rate of 1e-3.</param>
internal sealed record OcclusionScore(double Auc, double Accuracy, double AccuracyStd, double TarAtFar1e3)
{
    internal static OcclusionScore From(VerificationReport r) => new(r.Auc, r.AccuracyMean, r.AccuracyStd, r.TarAtFar1e3);
}

/// <summary>Rank-1 and rank-5 of the probes of one condition, in cosine order and re-ranked by the learned xCos.</summary>
internal sealed record OcclusionRanks(int Probes, double Rank1Cosine, double Rank1Reranked, double Rank5Cosine, double Rank5Reranked);

/// <summary>One condition: face 2 of every pair (and every 1:N probe) clean or occluded.</summary>
/// <param name="Name">"clean", "mask", "sunglasses" or "blobs25".</param>
/// <param name="Cosine">The original model's embedding cosine.</param>
/// <param name="Xcos">The learned xCos of the chosen model on the same pairs.</param>
/// <param name="Identification">1:N on the same occluder.</param>
/// <param name="PairScores">Every pair's scores, in the order of <see cref="OcclusionBenchmarkResult.PairFaces"/>.</param>
/// <param name="ProbeShortlists">Every probe's shortlist in cosine order, with both scores.</param>
internal sealed record OcclusionConditionResult(string Name, OcclusionScore Cosine, OcclusionScore Xcos, OcclusionRanks Identification,
    IReadOnlyList<OcclusionPairScore> PairScores, IReadOnlyList<OcclusionProbe> ProbeShortlists);

/// <summary>One pair's original cosine and learned xCos under one condition.</summary>
internal sealed record OcclusionPairScore(bool Same, double Cosine, double Xcos);

/// <summary>One 1:N probe: its face index, its true identity and the shortlist in cosine order (identity, cosine, learned xCos).</summary>
internal sealed record OcclusionProbe(int Face, string Truth, IReadOnlyList<(string Identity, double Cosine, double Xcos)> Shortlist);

/// <summary>Milliseconds of the learned head scoring one probe's shortlist in one call.</summary>
internal sealed record RerankTiming(int Candidates, int Probes, double P50, double P99, double Mean);

/// <summary>What <see cref="OcclusionBenchmark.Run"/> measured; <c>PairFaces</c> holds the face indices (face 1 clean, face 2 occluded) of each pair, in the order of every condition's pair scores.</summary>
internal sealed record OcclusionBenchmarkResult(int Pairs, int SamePairs, int People, int GalleryIdentities, int Seed,
    IReadOnlyList<OcclusionConditionResult> Conditions, RerankTiming Rerank, OcclusionExample? Example, IReadOnlyList<(int A, int B)> PairFaces);

/// <summary>An occluded same-person pair and the learned head's view of it, for the explanation figure.</summary>
internal sealed record OcclusionExample(string Condition, RgbImage Face1, RgbImage Face2, LearnedHeadExplanation Explanation, double Cosine);

/// <summary>
/// The occlusion benchmark on aligned faces: for each condition (clean, surgical-mask shape, dark sunglasses, random
/// blobs over 25 % of the face) face 2 of every pair is occluded (<see cref="FaceOccluders"/>,
/// <see cref="OcclusionMasks.Blobs"/>; each face once per condition, seeded), and the original model's cosine and the chosen model's learned xCos are
/// measured on the same pairs (AUC, k-fold accuracy, TAR at FAR 1e-3); then 1:N with one gallery photo per person
/// (distractor people included) and occluded probes, through <see cref="FaceIdentifier"/>: rank-1 of the cosine order
/// and of the shortlist re-ranked by the learned xCos on the gallery's stored maps.
/// </summary>
internal static class OcclusionBenchmark
{
    /// <summary>The conditions, in report order.</summary>
    public static readonly IReadOnlyList<string> ConditionNames = ["clean", "mask", "sunglasses", "blobs25"];

    /// <summary>Runs the benchmark.</summary>
    /// <param name="original">The original face model whose cosine is the baseline (and the 1:N shortlist).</param>
    /// <param name="model">The chosen model with its learned head (<see cref="XcosVariant.Learned"/>).</param>
    /// <param name="faces">Aligned faces of the evaluated people.</param>
    /// <param name="labels">Person index of each face.</param>
    /// <param name="names">Person names by index.</param>
    /// <param name="distractors">One aligned face per distractor person (1:N gallery only; never a probe).</param>
    /// <param name="galleryFile">A new gallery file for the 1:N part (deleted after).</param>
    /// <param name="options">Settings.</param>
    /// <param name="progress">Receives short stage descriptions.</param>
    /// <exception cref="ArgumentException">No learned head, too few people, or a person with a single photo.</exception>
    public static OcclusionBenchmarkResult Run(OnnxFaceEmbedder original, OnnxFaceEncoder model, IReadOnlyList<RgbImage> faces, IReadOnlyList<int> labels,
        IReadOnlyList<string> names, IReadOnlyList<(string Identity, RgbImage Face)> distractors, string galleryFile,
        OcclusionBenchmarkOptions? options = null, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(faces);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(distractors);
        var o = options ?? new OcclusionBenchmarkOptions();
        o.Validate();
        var head = model.Learned ?? throw new ArgumentException($"face model '{model.Descriptor.Name}': the benchmark compares its learned xCos; open it with XcosVariant.Learned");
        bool shared = SameModel(original, model.Embedder);

        progress?.Invoke($"drawing {o.Pairs} pairs and their occluders (seed {o.Seed})");
        var set = OccludedPairSet.Build("benchmark", faces, labels, o.Pairs, o.Seed);
        // the set lists same pairs first; the k folds are contiguous, so each fold must hold both kinds
        var order = set.Pairs.ToArray();
        new Random(o.Seed + 1).Shuffle(order);
        var pairs = order;
        var clean = Embed(original, model, shared, faces, o.BatchSize, progress, "clean faces");
        var same = pairs.Select(p => p.Same).ToArray();
        var results = new List<OcclusionConditionResult>();
        OcclusionExample? example = null;

        // 1:N: the first photo of each person (and each distractor) in the gallery, up to ProbesPerPerson others as probes
        var rng = new Random(o.Seed * 7919 + 17);
        var galleryIndex = new Dictionary<int, int>();
        var probes = new List<int>();
        foreach (var person in labels.Distinct().Order())
        {
            var own = Enumerable.Range(0, faces.Count).Where(i => labels[i] == person).ToList();
            galleryIndex[person] = own[0];
            var rest = own.Skip(1).ToArray();
            rng.Shuffle(rest);
            probes.AddRange(rest.Take(o.ProbesPerPerson));
        }
        if (File.Exists(galleryFile)) throw new IOException($"{galleryFile}: exists already; the benchmark writes a new gallery");
        var distractorCodes = Embed(original, model, shared, distractors.Select(d => d.Face).ToList(), o.BatchSize, null, "");
        using var gallery = FaceGallery.Create(galleryFile, model.Model, new FaceGalleryOptions { Index = GalleryIndexKind.Exact, SaveIndex = false });
        try
        {
            foreach (var (person, i) in galleryIndex) gallery.Enroll(names[person], clean.Embeddings[i], clean.FaceCodes[i], $"face {i}");
            for (int d = 0; d < distractors.Count; d++) gallery.Enroll(distractors[d].Identity, distractorCodes.Embeddings[d], distractorCodes.FaceCodes[d], $"distractor {d}");
            var identifier = new FaceIdentifier(model, gallery, galleryFile);
            var timings = new List<double>();

            for (int c = 0; c < ConditionNames.Count; c++)
            {
                string name = ConditionNames[c];
                // each face is occluded once per condition (seeded), so one backbone pass serves the pairs' face 2 and the probes
                var occluded = Occlude(name, faces, o.Seed, o.BlobFraction);
                var all = name == "clean" ? clean : Embed(original, model, shared, occluded, o.BatchSize, progress, $"{name}: {faces.Count} faces");
                var emb2 = Pick(all, pairs.Select(p => p.B));
                var cos = new double[pairs.Length];
                for (int i = 0; i < cos.Length; i++) cos[i] = VectorMath.Cosine(clean.Embeddings[pairs[i].A], emb2.Embeddings[i]);
                progress?.Invoke($"{name}: learned xCos of {cos.Length} pairs");
                var xc = new double[cos.Length];
                LearnedHeadExplanation? firstSame = null;
                int firstSameIndex = -1;
                for (int s = 0; s < cos.Length; s += o.BatchSize)
                {
                    int n = Math.Min(o.BatchSize, cos.Length - s);
                    var r = head.Explain([.. Enumerable.Range(s, n).Select(i =>
                        (clean.Maps[pairs[i].A], emb2.Maps[i], clean.Embeddings[pairs[i].A], emb2.Embeddings[i]))]);
                    for (int i = 0; i < n; i++)
                    {
                        xc[s + i] = r[i].Xcos;
                        if (firstSame is null && same[s + i]) { firstSame = r[i]; firstSameIndex = s + i; }
                    }
                }
                if (name == "mask" && firstSame is not null)
                    example = new OcclusionExample(name, faces[pairs[firstSameIndex].A], occluded[pairs[firstSameIndex].B], firstSame, cos[firstSameIndex]);
                var vo = new VerificationOptions { Folds = Math.Min(o.Folds, cos.Length) };
                var cosine = OcclusionScore.From(VerificationMetrics.Evaluate(cos, same, vo));
                var xcos = OcclusionScore.From(VerificationMetrics.Evaluate(xc, same, vo));

                // 1:N: the probes with this condition's occluder, through the gallery and the identifier
                var pe = Pick(all, probes);
                progress?.Invoke($"{name}: identifying {probes.Count} probes");
                int r1c = 0, r1x = 0, r5c = 0, r5x = 0;
                var shortlists = new List<OcclusionProbe>(probes.Count);
                var search = new FaceIdentifierOptions { Top = o.Shortlist, Shortlist = o.Shortlist, Threshold = -1 };
                var sw = new Stopwatch();
                for (int k = 0; k < probes.Count; k++)
                {
                    string truth = names[labels[probes[k]]];
                    var enc = new FaceEncoding(FaceStatus.Ok, null, pe.Embeddings[k], pe.FaceCodes[k], null, 1);
                    var id = identifier.Identify(enc, search);
                    shortlists.Add(new OcclusionProbe(probes[k], truth, [.. id.Matches.Select(m => (m.Identity, m.Cosine, m.Score!.Value))]));
                    var byCos = id.Matches.Select(m => m.Identity).ToList();
                    var byXcos = id.Matches.OrderByDescending(m => m.Score!.Value).ThenByDescending(m => m.Cosine).Select(m => m.Identity).ToList();
                    if (byCos.FirstOrDefault() == truth) r1c++;
                    if (byXcos.FirstOrDefault() == truth) r1x++;
                    if (byCos.Take(5).Contains(truth)) r5c++;
                    if (byXcos.Take(5).Contains(truth)) r5x++;
                    if (name == "clean")
                    {
                        // the re-ranking alone: the shortlist's stored maps through the head in one call
                        var codes = id.Matches.Select(m => m.Face.Code).ToArray();
                        if (k == 0) model.CompareMany(pe.FaceCodes[k], codes);   // warm-up: the session's first run allocates
                        sw.Restart();
                        model.CompareMany(pe.FaceCodes[k], codes);
                        timings.Add(sw.Elapsed.TotalMilliseconds);
                    }
                }
                double N = probes.Count;
                results.Add(new OcclusionConditionResult(name, cosine, xcos, new OcclusionRanks(probes.Count, r1c / N, r1x / N, r5c / N, r5x / N),
                    [.. cos.Select((v, i) => new OcclusionPairScore(same[i], v, xc[i]))], shortlists));
            }
            var t = timings.Order().ToArray();
            double P(double q) => t[Math.Min(t.Length - 1, (int)Math.Ceiling(q * t.Length) - 1)];
            var timing = new RerankTiming(Math.Min(o.Shortlist, gallery.Identities.Count), t.Length, P(0.5), P(0.99), t.Average());
            return new OcclusionBenchmarkResult(pairs.Length, same.Count(v => v), labels.Distinct().Count(), gallery.Identities.Count, o.Seed, results, timing, example, [.. pairs.Select(p => (p.A, p.B))]);
        }
        finally
        {
            gallery.Dispose();
            File.Delete(galleryFile);
        }
    }

    /// <summary>The faces with a condition's occluder, drawn from a generator seeded by <paramref name="seed"/> and the condition.</summary>
    /// <exception cref="ArgumentException">An unknown condition.</exception>
    public static List<RgbImage> Occlude(string condition, IReadOnlyList<RgbImage> faces, int seed, double blobFraction = 0.25)
    {
        ArgumentNullException.ThrowIfNull(faces);
        int s = seed * 1009;
        return condition switch
        {
            "clean" => [.. faces],
            "mask" => Draw(faces, FaceOccluder.Mask, s + 1),
            "sunglasses" => Draw(faces, FaceOccluder.Sunglasses, s + 2),
            "blobs25" => [.. faces.Select((f, i) => OcclusionMasks.Apply(f, OcclusionMasks.Blobs(f.Width, f.Height, blobFraction, s + 3 + i)))],
            _ => throw new ArgumentException($"unknown condition '{condition}': expected {string.Join(", ", ConditionNames)}", nameof(condition)),
        };
    }

    private static List<RgbImage> Draw(IReadOnlyList<RgbImage> faces, FaceOccluder kind, int seed)
    {
        var rng = new Random(seed);
        return [.. faces.Select(f => FaceOccluders.Apply(f, kind, rng))];
    }

    // The original model's embeddings (the baseline cosine), the chosen model's maps (the head's input) and its face codes (the gallery's).
    private sealed record Codes(float[][] Embeddings, float[][] Maps, float[][] FaceCodes);

    private static Codes Pick(Codes all, IEnumerable<int> indices)
    {
        var ix = indices.ToArray();
        return new Codes([.. ix.Select(i => all.Embeddings[i])], [.. ix.Select(i => all.Maps[i])], [.. ix.Select(i => all.FaceCodes[i])]);
    }

    // One pass of each model (one in all when they are one model).
    private static Codes Embed(OnnxFaceEmbedder original, OnnxFaceEncoder encoder, bool shared, IReadOnlyList<RgbImage> faces, int batch, Action<string>? progress, string what)
    {
        if (faces.Count > 0 && what.Length > 0) progress?.Invoke($"embedding {what}");
        var model = encoder.Embedder;
        var emb = new float[faces.Count][];
        var maps = new float[faces.Count][];
        var codes = new float[faces.Count][];
        for (int s = 0; s < faces.Count; s += batch)
        {
            var chunk = faces.Skip(s).Take(batch).ToArray();
            var m = model.Embed(chunk);
            var e = shared ? m : original.Embed(chunk);
            for (int i = 0; i < chunk.Length; i++)
            {
                emb[s + i] = e[i].Embedding;
                maps[s + i] = m[i].FeatureMap;
                codes[s + i] = encoder.CodeOf(m[i].Embedding, m[i].FeatureMap);
            }
        }
        return new Codes(emb, maps, codes);
    }

    private static bool SameModel(OnnxFaceEmbedder a, OnnxFaceEmbedder b) =>
        ReferenceEquals(a, b) || (a.Model.Source == b.Model.Source && a.EmbeddingName == b.EmbeddingName && a.Precision == b.Precision);
}
