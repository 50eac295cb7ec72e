using System.Diagnostics;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;

namespace Xcos.ML.Verification;

/// <summary>
/// The shared half of every <see cref="IFacePairVerifier"/>: reading images (failures become statuses), detection and
/// alignment (or the size check of aligned input), the per-call cache of embedded faces, the decision rule and timing.
/// A model supplies <see cref="EmbedFaces"/>, <see cref="CheckEmbedding"/> and <see cref="ScorePairs"/>.
/// </summary>
/// <typeparam name="TEmbedding">What the model keeps of one embedded face.</typeparam>
public abstract class FacePairVerifier<TEmbedding> : IFacePairVerifier where TEmbedding : class
{
    /// <summary>Pairs scored together in <see cref="VerifyMany"/>; their new faces are embedded in one call.</summary>
    protected const int ChunkPairs = 32;

    private readonly FaceDetector? _detector;
    private readonly bool _ownsDetector;
    private bool _disposed;

    /// <summary>Sets up the shared part.</summary>
    /// <param name="detector">Finds and aligns faces in photos; null when every input is an aligned face.</param>
    /// <param name="ownsDetector">Dispose the detector with this verifier.</param>
    /// <param name="faceSize">Side of the aligned faces the model takes.</param>
    /// <param name="alignedInput">Inputs are aligned faces: no detection.</param>
    /// <param name="threshold">Threshold on the deciding score; null: undecided.</param>
    /// <exception cref="ArgumentException">Photos are expected but there is no detector.</exception>
    protected FacePairVerifier(FaceDetector? detector, bool ownsDetector, int faceSize, bool alignedInput, double? threshold)
    {
        if (!alignedInput && detector is null) throw new ArgumentException("a verifier of photos needs a face detector (or take aligned faces as input)", nameof(detector));
        if (faceSize < 8) throw new ArgumentOutOfRangeException(nameof(faceSize), faceSize, "must be at least 8");
        if (threshold is { } t && !double.IsFinite(t)) throw new ArgumentOutOfRangeException(nameof(threshold), t, "must be finite");
        _detector = detector;
        _ownsDetector = ownsDetector;
        FaceSize = faceSize;
        AlignedInput = alignedInput;
        Threshold = threshold;
    }

    /// <inheritdoc/>
    public double? Threshold { get; }

    /// <inheritdoc/>
    public int FaceSize { get; }

    /// <inheritdoc/>
    public bool AlignedInput { get; }

    /// <inheritdoc/>
    public abstract XcosVariant Variant { get; }

    /// <inheritdoc/>
    public abstract string CosineSource { get; }

    /// <inheritdoc/>
    public abstract string DecidedBy { get; }

    /// <summary>What the cos map holds, as a figure title (null: patch cosines).</summary>
    public virtual string? MapTitle => null;

    /// <summary>The detector, or null for aligned input only.</summary>
    public FaceDetector? Detector => _detector;

    /// <summary>Embeds aligned faces (each <see cref="FaceSize"/> square), one result per face in order.</summary>
    protected abstract IReadOnlyList<TEmbedding> EmbedFaces(IReadOnlyList<RgbImage> faces);

    /// <summary>Why an embedding cannot be compared (zero or not finite), or null when it can.</summary>
    protected abstract string? CheckEmbedding(TEmbedding embedding);

    /// <summary>Scores pairs of usable embeddings, one result per pair in order.</summary>
    protected abstract IReadOnlyList<FacePairScores> ScorePairs(IReadOnlyList<(TEmbedding First, TEmbedding Second)> pairs);

    /// <inheritdoc/>
    public FacePairVerification Verify(string path1, string path2) =>
        Run([(FileInput(path1, AlignedInput), FileInput(path2, AlignedInput))], keepFaces: true, progress: null)[0];

    /// <inheritdoc/>
    public FacePairVerification Verify(RgbImage image1, RgbImage image2, string name1 = "image1", string name2 = "image2") =>
        Run([(ImageInput(image1, name1, AlignedInput), ImageInput(image2, name2, AlignedInput))], keepFaces: true, progress: null)[0];

    /// <inheritdoc/>
    public FacePairVerification VerifyAligned(RgbImage face1, RgbImage face2, string name1 = "face1", string name2 = "face2") =>
        Run([(ImageInput(face1, name1, true), ImageInput(face2, name2, true))], keepFaces: true, progress: null)[0];

    /// <inheritdoc/>
    public IReadOnlyList<FacePairVerification> VerifyMany(IReadOnlyList<(string Id1, string Id2)> pairs, Func<string, RgbImage>? load = null,
        bool keepFaces = false, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var read = load ?? (path => ImageIO.Load(path));
        var inputs = new Dictionary<string, FaceInput>(StringComparer.Ordinal);
        FaceInput Input(string id) => inputs.TryGetValue(id ?? "", out var f) ? f : inputs[id ?? ""] = new FaceInput(id ?? "", id ?? "", AlignedInput, () => read(id ?? ""));
        return Run(pairs.Select(p => (Input(p.Id1), Input(p.Id2))).ToArray(), keepFaces, progress);
    }

    /// <inheritdoc/>
    public FaceReport Analyse(RgbImage image, string name)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Analyse(image, name, AlignedInput);
    }

    private FaceReport Analyse(RgbImage image, string name, bool aligned)
    {
        if (aligned)
            return image.Width == FaceSize && image.Height == FaceSize
                ? new FaceReport(name, FaceStatus.Ok, null, 1, null, null, null, image)
                : FaceReport.Failed(name, FaceStatus.ModelError, $"the model takes aligned {FaceSize}x{FaceSize} faces; this image is {image.Width}x{image.Height}");
        FaceDetectionResult det;
        RgbImage? face;
        try
        {
            (det, face) = _detector!.DetectAndAlign(image);
        }
        catch (ArgumentException e)
        {
            return FaceReport.Failed(name, FaceStatus.DegenerateLandmarks, e.Message, 1);
        }
        if (det.Primary is not { } p || face is null) return FaceReport.Failed(name, FaceStatus.NoFace, null);
        if (face.Width != FaceSize || face.Height != FaceSize) face = ImageOps.Resize(face, FaceSize, FaceSize);
        return new FaceReport(name, FaceStatus.Ok, null, det.FaceCount, p.Box, p.Score, p.Landmarks5.Select(q => new[] { q.X, q.Y }).ToArray(), face);
    }

    private static FaceInput FileInput(string path, bool aligned) => new(path ?? "", path ?? "", aligned, () => ImageIO.Load(path!));

    private static FaceInput ImageInput(RgbImage image, string name, bool aligned)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new FaceInput(null, name, aligned, () => image);
    }

    /// <summary>One face to verify: its cache key (null: never shared), its name in reports, how to read it.</summary>
    private sealed record FaceInput(string? Key, string Name, bool Aligned, Func<RgbImage> Read);

    /// <summary>A prepared face: its report, its embedding when usable, and the milliseconds it took.</summary>
    private sealed class Prepared(FaceReport report)
    {
        public FaceReport Report { get; set; } = report;
        public TEmbedding? Embedding { get; set; }
        public double Milliseconds { get; set; }
        public bool Charged { get; set; }
    }

    private IReadOnlyList<FacePairVerification> Run(IReadOnlyList<(FaceInput A, FaceInput B)> pairs, bool keepFaces, IProgress<int>? progress)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var results = new FacePairVerification[pairs.Count];
        // each shared face is forgotten after the last pair that uses it
        var lastUse = new Dictionary<FaceInput, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < pairs.Count; i++) { lastUse[pairs[i].A] = i; lastUse[pairs[i].B] = i; }
        var cache = new Dictionary<FaceInput, Prepared>(ReferenceEqualityComparer.Instance);
        for (int start = 0; start < pairs.Count; start += ChunkPairs)
        {
            int end = Math.Min(pairs.Count, start + ChunkPairs);
            var fresh = new List<FaceInput>();
            for (int i = start; i < end; i++)
                foreach (var f in new[] { pairs[i].A, pairs[i].B })
                    if (!cache.ContainsKey(f)) { cache[f] = null!; fresh.Add(f); }
            foreach (var (f, p) in fresh.Zip(Prepare(fresh))) cache[f] = p;

            var sw = Stopwatch.StartNew();
            var scorable = Enumerable.Range(start, end - start)
                .Where(i => cache[pairs[i].A].Embedding is not null && cache[pairs[i].B].Embedding is not null).ToArray();
            var scores = scorable.Length == 0 ? [] : ScorePairs(scorable.Select(i => (cache[pairs[i].A].Embedding!, cache[pairs[i].B].Embedding!)).ToArray());
            if (scores.Count != scorable.Length) throw new InvalidOperationException($"the model scored {scores.Count} of {scorable.Length} pairs");
            double scoreMs = scorable.Length == 0 ? 0 : sw.Elapsed.TotalMilliseconds / scorable.Length;
            var byPair = scorable.Select((i, k) => (i, k)).ToDictionary(x => x.i, x => scores[x.k]);
            for (int i = start; i < end; i++)
            {
                var (a, b) = (cache[pairs[i].A], cache[pairs[i].B]);
                results[i] = Result(a, b, byPair.GetValueOrDefault(i), Charge(a) + Charge(b) + (byPair.ContainsKey(i) ? scoreMs : 0), keepFaces);
            }
            foreach (var f in cache.Keys.Where(f => lastUse[f] < end).ToArray()) cache.Remove(f);
            progress?.Report(end);
        }
        return results;
    }

    // a face's time counts once, in the first pair that uses it
    private static double Charge(Prepared p)
    {
        if (p.Charged) return 0;
        p.Charged = true;
        return p.Milliseconds;
    }

    private FacePairVerification Result(Prepared a, Prepared b, FacePairScores? s, double ms, bool keepFaces)
    {
        var f1 = keepFaces ? a.Report : a.Report with { Aligned = null };
        var f2 = keepFaces ? b.Report : b.Report with { Aligned = null };
        if (s is null)
            return new FacePairVerification(f1, f2, double.NaN, double.NaN, CosineSource, DecidedBy, Threshold, VerificationDecision.Different,
                Variant, null, null, null, null, ms);
        double deciding = DecidedBy == "cosine" ? s.Cosine : s.Xcos;
        return new FacePairVerification(f1, f2, s.Xcos, s.Cosine, CosineSource, DecidedBy, Threshold, FacePairVerification.Decide(deciding, Threshold),
            Variant, s.CosMap, s.Attention, s.Contributions, s.BiasContribution, ms)
        { MapTitle = MapTitle };
    }

    /// <summary>Reads, aligns and embeds faces; every failure becomes the face's status.</summary>
    private List<Prepared> Prepare(IReadOnlyList<FaceInput> faces)
    {
        var prepared = new List<Prepared>(faces.Count);
        foreach (var f in faces)
        {
            var sw = Stopwatch.StartNew();
            // an in-memory image (no key) needs no path and cannot fail to load
            (RgbImage? image, FaceStatus status, string? detail) = f.Key is null ? (f.Read(), FaceStatus.Ok, null) : FaceImageErrors.TryLoad(f.Key, _ => f.Read());
            var report = image is null ? FaceReport.Failed(f.Name, status, detail) : Analyse(image, f.Name, f.Aligned);
            prepared.Add(new Prepared(report) { Milliseconds = sw.Elapsed.TotalMilliseconds });
        }
        var ok = prepared.Where(p => p.Report.IsOk).ToArray();
        if (ok.Length == 0) return prepared;
        var clock = Stopwatch.StartNew();
        IReadOnlyList<TEmbedding>? all = null;
        try { all = EmbedFaces(ok.Select(p => p.Report.Aligned!).ToArray()); }
        catch (Exception e) when (IsModelFailure(e)) { }  // find the face at fault one by one below
        for (int i = 0; i < ok.Length; i++)
        {
            TEmbedding? e = all?[i];
            if (e is null)
            {
                try { e = EmbedFaces([ok[i].Report.Aligned!])[0]; }
                catch (Exception x) when (IsModelFailure(x))
                {
                    ok[i].Report = FaceReport.Failed(ok[i].Report.Path, FaceStatus.ModelError, x.Message, ok[i].Report.FaceCount);
                    continue;
                }
            }
            if (CheckEmbedding(e) is { } why)
            {
                ok[i].Report = ok[i].Report with { Status = FaceStatus.ModelError, Detail = why };
                continue;
            }
            ok[i].Embedding = e;
        }
        double share = clock.Elapsed.TotalMilliseconds / ok.Length;
        foreach (var p in ok) p.Milliseconds += share;
        return prepared;
    }

    private static bool IsModelFailure(Exception e) => e is not (OperationCanceledException or OutOfMemoryException or ObjectDisposedException);

    /// <summary>Releases the model's resources (the detector is released by the base when owned).</summary>
    protected virtual void DisposeModel() { }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DisposeModel();
        if (_ownsDetector) _detector?.Dispose();
        GC.SuppressFinalize(this);
    }
}
