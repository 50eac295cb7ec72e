using System.Globalization;
using Xcos.ML.Alignment;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;
using Xcos.ML.Verification;

namespace Xcos.Cli.Benchmarks;

/// <summary>
/// Mild, seeded augmentation of an aligned face, made by re-warping the photo: a similarity about the template centre
/// (rotation, scale, shift) after the five-point alignment, then brightness, contrast and per-channel gain. Two
/// augmentations of one detected face make a "same" pair without identity labels.
/// </summary>
public sealed class FaceAugmentationOptions
{
    /// <summary>Largest rotation in degrees (uniform in +-). Default 5.</summary>
    public double MaxRotationDegrees { get; set; } = 5;

    /// <summary>Largest relative scale change (uniform in +-). Default 0.05.</summary>
    public double MaxScale { get; set; } = 0.05;

    /// <summary>Largest shift in aligned-face pixels, per axis (uniform in +-). Default 3.</summary>
    public double MaxShift { get; set; } = 3;

    /// <summary>Largest brightness offset in grey levels (uniform in +-). Default 15.</summary>
    public double MaxBrightness { get; set; } = 15;

    /// <summary>Largest relative contrast change about grey 128 (uniform in +-). Default 0.15.</summary>
    public double MaxContrast { get; set; } = 0.15;

    /// <summary>Largest relative per-channel gain change (uniform in +-). Default 0.05.</summary>
    public double MaxGain { get; set; } = 0.05;

    internal void Validate()
    {
        foreach (var (name, v) in new[] { (nameof(MaxRotationDegrees), MaxRotationDegrees), (nameof(MaxScale), MaxScale), (nameof(MaxShift), MaxShift),
                     (nameof(MaxBrightness), MaxBrightness), (nameof(MaxContrast), MaxContrast), (nameof(MaxGain), MaxGain) })
            if (!(v >= 0) || double.IsInfinity(v)) throw new ArgumentOutOfRangeException(name, v, "must be finite and non-negative");
        if (MaxScale >= 1 || MaxContrast >= 1 || MaxGain >= 1) throw new ArgumentException("MaxScale, MaxContrast and MaxGain must be below 1");
    }
}

/// <summary>How <see cref="RealFaceFaithfulness"/> measures on real photos: curve settings, batch size, augmentation and its seed.</summary>
public sealed class RealFaceFaithfulnessOptions
{
    /// <summary>Curve options (grid must match the model's map, 7 for 112x112 faces). Default: <see cref="FaithfulnessOptions"/> defaults.</summary>
    public FaithfulnessOptions Curves { get; set; } = new();

    /// <summary>Faces per ONNX Runtime call while scoring perturbed faces. Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Augmentation of both faces of every pair loaded from photos; null aligns without augmentation. Default: mild (<see cref="FaceAugmentationOptions"/> defaults).</summary>
    public FaceAugmentationOptions? Augmentation { get; set; } = new();

    /// <summary>Seed of the augmentations (pair i, face k uses a generator seeded from Seed, i and k). Default 0.</summary>
    public int AugmentationSeed { get; set; }
}

/// <summary>
/// Scores pairs of aligned faces with an ONNX face model: "cosine" is the model's embedding cosine (what decides),
/// "xcos" the weight-derived xCos of the two last feature maps.
/// </summary>
/// <remarks>Within one <see cref="Score"/> call faces repeated by reference are embedded once.</remarks>
public sealed class RealFaceScoring : IFacePairScoring
{
    private readonly OnnxFaceEmbedder _embedder;
    private readonly WeightDerivedXcos _xcos;
    private readonly int _batch;

    /// <summary>Scores pairs by <paramref name="embedder"/>'s cosine and <paramref name="xcos"/>'s xCos, <paramref name="batchSize"/> faces per ONNX run.</summary>
    /// <param name="embedder">The face model.</param>
    /// <param name="xcos">Weight-derived xCos of that model's head.</param>
    /// <param name="batchSize">Faces per ONNX Runtime call (default 32).</param>
    public RealFaceScoring(OnnxFaceEmbedder embedder, WeightDerivedXcos xcos, int batchSize = 32)
    {
        _embedder = embedder ?? throw new ArgumentNullException(nameof(embedder));
        _xcos = xcos ?? throw new ArgumentNullException(nameof(xcos));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be positive");
        _batch = batchSize;
    }

    /// <summary>Score names: "cosine" (explained, index 0) and "xcos".</summary>
    public IReadOnlyList<string> ScoreNames { get; } = [RealFaceFaithfulness.CosineScore, RealFaceFaithfulness.XcosScore];

    /// <inheritdoc/>
    public double[][] Score(IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2)
    {
        var (emb, unique) = DistinctFaceEmbeddings.Embed(_embedder, faces1, faces2, _batch);
        var cells = new float[emb.Length][];
        Parallel.For(0, emb.Length, i => cells[i] = _xcos.Head.CellFeatures(emb[i].FeatureMap));
        var cos = new double[faces1.Count];
        var xc = new double[faces1.Count];
        Parallel.For(0, faces1.Count, i =>
        {
            int a = unique[faces1[i]], b = unique[faces2[i]];
            cos[i] = VectorMath.Cosine(emb[a].Embedding, emb[b].Embedding);
            xc[i] = _xcos.ExplainCells(cells[a], cells[b]).Xcos;
        });
        return [cos, xc];
    }
}

/// <summary>Aligned face pairs read from photos, with their labels and names.</summary>
/// <param name="Source">The pair file.</param>
/// <param name="Faces">Aligned (and augmented) faces of each pair.</param>
/// <param name="Labels">True where the pair is marked same.</param>
/// <param name="Names">"photo1 | photo2" of each pair, as written in the file.</param>
public sealed record RealFacePairSet(string Source, IReadOnlyList<(RgbImage Face1, RgbImage Face2)> Faces, IReadOnlyList<bool> Labels, IReadOnlyList<string> Names)
{
    /// <summary>Pairs whose faces were found and aligned.</summary>
    public int Count => Faces.Count;
}

/// <summary>
/// Deletion and insertion curves of explanations of a real ONNX face model's decision (its embedding cosine):
/// the weight-derived xCos contributions (cos x attention), the exact additive contributions of the cosine,
/// Grad-CAM of the cosine through <see cref="AffineHeadScorer"/>, and a random order.
/// </summary>
public static class RealFaceFaithfulness
{
    /// <summary>Method name of the weight-derived xCos order (cell cosine x attention).</summary>
    public const string XcosMethod = "xcos";

    /// <summary>Method name of the exact additive contributions of the cosine.</summary>
    public const string ContributionMethod = "contribution";

    /// <summary>Method name of Grad-CAM of the cosine.</summary>
    public const string GradCamMethod = "gradcam";

    /// <summary>Score name of the model's embedding cosine (the explained score).</summary>
    public const string CosineScore = "cosine";

    /// <summary>Score name of the weight-derived xCos.</summary>
    public const string XcosScore = "xcos";

    /// <summary>The three explanations of one pair, as maps over the cells of face <paramref name="face"/> (1 or 2).</summary>
    public static IReadOnlyList<PatchExplanation> Explain(OnnxFaceEmbedder embedder, WeightDerivedXcos xcos, AffineHeadScorer gradients,
        RgbImage face1, RgbImage face2, int face = 1)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentNullException.ThrowIfNull(xcos);
        ArgumentNullException.ThrowIfNull(gradients);
        if (face is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(face), face, "must be 1 or 2");
        var e = embedder.Embed([face1, face2]);
        var ex = xcos.Explain(e[0].FeatureMap, e[1].FeatureMap);
        var cam = GradCam.Compute(gradients, e[0].FeatureMap, e[1].FeatureMap);
        return
        [
            new PatchExplanation(XcosMethod, ex.CosMap.Zip(ex.Attention, (c, a) => c * a).ToArray()),
            new PatchExplanation(ContributionMethod, ex.Contributions),
            new PatchExplanation(GradCamMethod, face == 1 ? cam.Cam1 : cam.Cam2),
        ];
    }

    /// <summary>Curves of one pair of aligned faces.</summary>
    public static FaithfulnessPairResult Evaluate(OnnxFaceEmbedder embedder, WeightDerivedXcos xcos, AffineHeadScorer gradients,
        RgbImage face1, RgbImage face2, RealFaceFaithfulnessOptions? options = null)
    {
        var o = options ?? new RealFaceFaithfulnessOptions();
        if (o.Curves.Grid != xcos.Head.Height || xcos.Head.Height != xcos.Head.Width)
            throw new ArgumentException($"the explanations cover the model's {xcos.Head.Height}x{xcos.Head.Width} map; Curves.Grid is {o.Curves.Grid}");
        var explanations = Explain(embedder, xcos, gradients, face1, face2, o.Curves.Face);
        return Faithfulness.Evaluate(new RealFaceScoring(embedder, xcos, o.BatchSize), face1, face2, explanations, o.Curves);
    }

    /// <summary>Curves of every pair (one result per pair, in order), with the verifier's model and explainer.</summary>
    /// <param name="verifier">Supplies the ONNX model and its weight-derived xCos.</param>
    /// <param name="pairs">Aligned faces.</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <param name="progress">Receives the number of pairs done.</param>
    public static IReadOnlyList<FaithfulnessPairResult> EvaluatePairs(OnnxFacePairVerifier verifier, IEnumerable<(RgbImage Face1, RgbImage Face2)> pairs,
        RealFaceFaithfulnessOptions? options = null, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        return EvaluatePairs(verifier.Embedder, verifier.Xcos ?? throw new ArgumentException($"face model '{verifier.Descriptor.Name}' has no weight-derived xCos to measure"), pairs, options, progress);
    }

    /// <summary>Curves of every pair (one result per pair, in order).</summary>
    public static IReadOnlyList<FaithfulnessPairResult> EvaluatePairs(OnnxFaceEmbedder embedder, WeightDerivedXcos xcos,
        IEnumerable<(RgbImage Face1, RgbImage Face2)> pairs, RealFaceFaithfulnessOptions? options = null, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentNullException.ThrowIfNull(xcos);
        ArgumentNullException.ThrowIfNull(pairs);
        var gradients = new AffineHeadScorer(xcos.Head);
        var results = new List<FaithfulnessPairResult>();
        foreach (var (a, b) in pairs)
        {
            results.Add(Evaluate(embedder, xcos, gradients, a, b, options));
            progress?.Report(results.Count);
        }
        if (results.Count == 0) throw new ArgumentException("no pairs to evaluate");
        return results;
    }

    /// <summary>
    /// Reads a pair file of photos and detects, aligns and (optionally) augments the primary face of each.
    /// Lines: <c>photo1 TAB photo2 TAB same</c> (same: 1/0 or true/false); a first line whose third field
    /// is not a label is a header; blank lines and lines starting with '#' are skipped. Paths are relative to
    /// <paramref name="root"/> (default: the pair file's folder). The same photo on both sides of a "same" pair gives two
    /// augmentations of one face.
    /// </summary>
    /// <exception cref="InvalidDataException">A malformed line, or a photo without a face (names the file, line and photo).</exception>
    public static RealFacePairSet LoadPairs(OnnxFacePairVerifier verifier, string pairFile, string? root = null, RealFaceFaithfulnessOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(pairFile);
        if (!File.Exists(pairFile)) throw new FileNotFoundException($"pair file not found: {pairFile}", pairFile);
        var o = options ?? new RealFaceFaithfulnessOptions();
        o.Augmentation?.Validate();
        root ??= Path.GetDirectoryName(Path.GetFullPath(pairFile))!;
        var rows = ParsePairLines(pairFile, File.ReadAllLines(pairFile));
        var photos = new Dictionary<string, (RgbImage Photo, (double X, double Y)[] Landmarks)>();
        (RgbImage, (double, double)[]) Detect(string rel, int line)
        {
            if (photos.TryGetValue(rel, out var hit)) return hit;
            var path = Path.Combine(root, rel);
            if (!File.Exists(path)) throw new InvalidDataException($"{pairFile}: line {line}: photo '{rel}' not found under {root}");
            var img = ImageIO.Load(path);
            var report = verifier.Analyse(img, rel);
            if (report.Landmarks is null) throw new InvalidDataException($"{pairFile}: line {line}: no face found in '{rel}'");
            var lm = report.Landmarks.Select(p => (p[0], p[1])).ToArray();
            photos[rel] = (img, lm);
            return (img, lm);
        }
        int side = verifier.Descriptor.InputSize;
        var faces = new List<(RgbImage, RgbImage)>();
        var labels = new List<bool>();
        var names = new List<string>();
        foreach (var (line, p1, p2, same) in rows)
        {
            var (img1, lm1) = Detect(p1, line);
            var (img2, lm2) = Detect(p2, line);
            int i = faces.Count;
            faces.Add((AlignAugmented(img1, lm1, side, o.Augmentation, Seed(o.AugmentationSeed, i, 1)),
                       AlignAugmented(img2, lm2, side, o.Augmentation, Seed(o.AugmentationSeed, i, 2))));
            labels.Add(same);
            names.Add($"{p1} | {p2}");
        }
        if (faces.Count == 0) throw new InvalidDataException($"{pairFile}: no pairs");
        return new RealFacePairSet(pairFile, faces, labels, names);
    }

    // Deterministic across processes (HashCode.Combine is randomised per process).
    private static int Seed(int seed, int pair, int face) => unchecked(seed * 1_000_003 + pair * 2 + face);

    /// <summary>Aligns a face on the five-point template (side x side) and applies a seeded augmentation (none when <paramref name="augmentation"/> is null).</summary>
    public static RgbImage AlignAugmented(RgbImage photo, ReadOnlySpan<(double X, double Y)> landmarks, int side, FaceAugmentationOptions? augmentation, int seed)
    {
        ArgumentNullException.ThrowIfNull(photo);
        if (side < 8) throw new ArgumentOutOfRangeException(nameof(side), side, "must be at least 8");
        var m = FaceAligner.EstimateMatrix(landmarks);  // photo -> 112x112 template
        double k = side / 112.0;
        m = Compose(new Affine2x3(k, 0, 0, 0, k, 0), m);
        if (augmentation is null) return AffineWarp.Warp(photo, m, side, side);
        augmentation.Validate();
        var rng = new Random(seed);
        double U() => rng.NextDouble() * 2 - 1;
        double ang = U() * augmentation.MaxRotationDegrees * Math.PI / 180, sc = 1 + U() * augmentation.MaxScale;
        double tx = U() * augmentation.MaxShift * k, ty = U() * augmentation.MaxShift * k, cx = side / 2.0;
        double ca = sc * Math.Cos(ang), sa = sc * Math.Sin(ang);
        // Similarity about the face centre, applied after the alignment.
        var t = new Affine2x3(ca, -sa, cx - ca * cx + sa * cx + tx, sa, ca, cx - sa * cx - ca * cx + ty);
        var face = AffineWarp.Warp(photo, Compose(t, m), side, side);
        double br = U() * augmentation.MaxBrightness, ct = 1 + U() * augmentation.MaxContrast;
        double[] gain = [1 + U() * augmentation.MaxGain, 1 + U() * augmentation.MaxGain, 1 + U() * augmentation.MaxGain];
        var px = face.Pixels;
        for (int i = 0; i < px.Length; i++) px[i] = (byte)Math.Clamp(Math.Round(((px[i] - 128) * ct + 128 + br) * gain[i % 3]), 0, 255);
        return face;
    }

    // a after b.
    private static Affine2x3 Compose(Affine2x3 a, Affine2x3 b) => new(
        a.M00 * b.M00 + a.M01 * b.M10, a.M00 * b.M01 + a.M01 * b.M11, a.M00 * b.M02 + a.M01 * b.M12 + a.M02,
        a.M10 * b.M00 + a.M11 * b.M10, a.M10 * b.M01 + a.M11 * b.M11, a.M10 * b.M02 + a.M11 * b.M12 + a.M12);

    /// <summary>Parses pair lines (see <see cref="LoadPairs"/>): (1-based line, photo1, photo2, same).</summary>
    /// <exception cref="InvalidDataException">A line without three tab-separated fields or with an unknown label.</exception>
    public static IReadOnlyList<(int Line, string Photo1, string Photo2, bool Same)> ParsePairLines(string source, IReadOnlyList<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var rows = new List<(int, string, string, bool)>();
        bool first = true;
        for (int i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var f = line.Split('\t');
            if (f.Length != 3) throw new InvalidDataException($"{source}: line {i + 1}: expected 'photo1<TAB>photo2<TAB>same', got {f.Length} field(s)");
            var label = ParseLabel(f[2].Trim());
            if (label is null)
            {
                if (first) { first = false; continue; }  // header
                throw new InvalidDataException($"{source}: line {i + 1}: label '{f[2]}' is not 1/0 or true/false");
            }
            first = false;
            rows.Add((i + 1, f[0].Trim(), f[1].Trim(), label.Value));
        }
        return rows;
    }

    private static bool? ParseLabel(string s) => s.ToLowerInvariant() switch
    {
        "1" or "true" => true,
        "0" or "false" => false,
        _ => null,
    };

    /// <summary>The AUC table of a summary as text (one line per method: deletion and insertion of each score).</summary>
    public static string FormatTable(FaithfulnessSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var scores = summary.Rows.Select(r => r.ScoreName).Distinct().ToArray();
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.Append(string.Create(inv, $"{"method",-13}"));
        foreach (var s in scores) sb.Append(string.Create(inv, $" {"del " + s,12} {"ins " + s,12}"));
        sb.AppendLine();
        foreach (var m in summary.Methods)
        {
            sb.Append(string.Create(inv, $"{m,-13}"));
            foreach (var s in scores)
                sb.Append(string.Create(inv, $" {summary.Auc(m, FaithfulnessKind.Deletion, s),12:0.0000} {summary.Auc(m, FaithfulnessKind.Insertion, s),12:0.0000}"));
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
