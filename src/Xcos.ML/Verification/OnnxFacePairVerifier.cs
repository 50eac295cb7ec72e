using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;

namespace Xcos.ML.Verification;

/// <summary>
/// Verification with a real ONNX face model: detect (fr_detect + fr_landmark), align (five points onto the 112x112
/// ArcFace template), embed (default fr_feature, or any model a descriptor names) and explain. The model's own cosine
/// decides against the threshold; the weight-derived or learned xCos explains it, and the weight-derived contributions
/// decompose the cosine exactly. A descriptor that says <c>"decides": "xcos"</c> makes the learned xCos decide
/// (against its <c>xcos_threshold</c>) whenever the learned head runs.
/// </summary>
/// <remarks>Thread-safe after construction (ONNX Runtime sessions run concurrently; calls share no state).</remarks>
public sealed class OnnxFacePairVerifier : FacePairVerifier<FaceEmbedding>
{
    private readonly OnnxFaceEmbedder _embedder;
    private readonly int _batch;

    /// <summary>Loads the detector (unless <see cref="OnnxFacePairVerifierOptions.AlignedInput"/>), the face model, its descriptor and the xCos head.</summary>
    /// <exception cref="FileNotFoundException">A model, descriptor, calibration or learned-head file is missing (the message says how to fetch models).</exception>
    /// <exception cref="InvalidDataException">A model or descriptor does not fit.</exception>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public OnnxFacePairVerifier(OnnxFacePairVerifierOptions? options = null) : this(Parts.Load(options ?? new OnnxFacePairVerifierOptions())) { }

    private OnnxFacePairVerifier(Parts parts) : base(parts.Detector, true, parts.Descriptor.InputSize, parts.Options.AlignedInput, parts.Threshold)
    {
        DecidedBy = parts.DecidedBy;
        Options = parts.Options;
        ModelsDir = parts.ModelsDir;
        Descriptor = parts.Descriptor;
        _embedder = parts.Embedder;
        Xcos = parts.Xcos;
        Learned = parts.Learned;
        _batch = parts.Options.BatchSize;
    }

    /// <summary>The settings it was created with (models, variant, precision, batch size, threshold).</summary>
    public OnnxFacePairVerifierOptions Options { get; }
    /// <summary>The models folder in use.</summary>
    public string ModelsDir { get; }
    /// <summary>The face model's descriptor: files, input size and normalisation, threshold.</summary>
    public FaceModelDescriptor Descriptor { get; }
    /// <summary>
    /// The weight-derived explainer (its contributions decompose the cosine); null only for a learned-xCos model whose
    /// feature map does not feed its embedding (a two-branch graph: the learned head reads a fine-tuned map, the
    /// embedding stays the original model's), where no weight-derived xCos exists.
    /// </summary>
    public WeightDerivedXcos? Xcos { get; }
    /// <summary>The learned head for <see cref="XcosVariant.Learned"/>, else null.</summary>
    public LearnedHead? Learned { get; }
    /// <summary>The ONNX Runtime session that computes embeddings and feature maps.</summary>
    public OnnxFaceEmbedder Embedder => _embedder;

    /// <inheritdoc/>
    public override XcosVariant Variant => Learned is null ? XcosVariant.Weights : XcosVariant.Learned;

    /// <inheritdoc />
    public override string? MapTitle => Learned?.MapTitle;

    /// <summary>The variant in words for reports: "learned", or the weight-derived one with its calibration (<see cref="WeightDerivedXcosOptions.Describe"/>).</summary>
    public string VariantDescription => Learned is null ? Xcos!.Options.Describe() : "learned";

    /// <inheritdoc/>
    public override string CosineSource => "model";

    /// <inheritdoc/>
    public override string DecidedBy { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<FaceEmbedding> EmbedFaces(IReadOnlyList<RgbImage> faces)
    {
        var all = new List<FaceEmbedding>(faces.Count);
        for (int s = 0; s < faces.Count; s += _batch)
        {
            var chunk = faces.Skip(s).Take(_batch).ToArray();
            if (!Options.Flip) { all.AddRange(_embedder.Embed(chunk)); continue; }
            // flip test-time augmentation: image and mirror, combined with the mirror's map flipped back
            var both = _embedder.Embed([.. chunk, .. chunk.Select(PhotoAugmentation.FlipHorizontal)]);
            for (int i = 0; i < chunk.Length; i++) all.Add(FlipEmbedding.Combine(both[i], both[chunk.Length + i], _embedder.MapShape));
        }
        return all;
    }

    /// <inheritdoc/>
    protected override string? CheckEmbedding(FaceEmbedding embedding) =>
        VectorMath.HasDirection(embedding.Embedding) && embedding.FeatureMap.All(float.IsFinite) ? null
        : "the face model gave a zero or non-finite embedding, which has no cosine";

    /// <inheritdoc/>
    protected override IReadOnlyList<FacePairScores> ScorePairs(IReadOnlyList<(FaceEmbedding First, FaceEmbedding Second)> pairs)
    {
        var result = new FacePairScores[pairs.Count];
        Parallel.For(0, pairs.Count, i =>
        {
            var (a, b) = pairs[i];
            double cos = VectorMath.Cosine(a.Embedding, b.Embedding);
            if (Xcos is null) { result[i] = new FacePairScores(double.NaN, cos, [], []); return; }
            var ex = Xcos.Explain(a.FeatureMap, b.FeatureMap);
            result[i] = new FacePairScores(ex.Xcos, cos, ex.CosMap, ex.Attention, ex.Contributions, ex.BiasContribution);
        });
        if (Learned is null || pairs.Count == 0) return result;
        // the learned head replaces xCos and its maps; the contributions stay the exact decomposition of the cosine
        var learned = Learned.Explain([.. pairs.Select(p => (p.First.FeatureMap, p.Second.FeatureMap, p.First.Embedding, p.Second.Embedding))]);
        for (int i = 0; i < pairs.Count; i++)
            result[i] = result[i] with { Xcos = learned[i].Xcos, CosMap = learned[i].CosMap, Attention = learned[i].Attention };
        return result;
    }

    /// <inheritdoc/>
    protected override void DisposeModel()
    {
        _embedder.Dispose();
        Learned?.Dispose();
    }

    /// <summary>Everything the constructor loads, built before the base class needs the detector and face size.</summary>
    private sealed record Parts(OnnxFacePairVerifierOptions Options, string ModelsDir, FaceModelDescriptor Descriptor, FaceDetector? Detector,
        OnnxFaceEmbedder Embedder, WeightDerivedXcos? Xcos, LearnedHead? Learned, double Threshold, string DecidedBy)
    {
        public static Parts Load(OnnxFacePairVerifierOptions o)
        {
            if (o.Variant is not (XcosVariant.Weights or XcosVariant.Learned))
                throw new ArgumentException($"xcos variant \"{o.Variant.ToText()}\" is not available for ONNX face models; use \"weights\" or \"learned\"");
            if (o.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(o), o.BatchSize, "BatchSize must be positive");
            var modelsDir = ModelStore.ResolveDirectory(o.ModelsDir);
            var descriptorPath = o.DescriptorPath ?? FaceModelDescriptor.ShippedPath();
            var descriptor = FaceModelDescriptor.Load(descriptorPath);
            var onnx = descriptor.OnnxPath(modelsDir, descriptorPath);
            FaceDetector? detector = null;
            OnnxFaceEmbedder? embedder = null;
            LearnedHead? learned = null;
            try
            {
                if (!o.AlignedInput)
                    detector = new FaceDetector(Path.Combine(modelsDir, "fr_detect.onnx"), Path.Combine(modelsDir, "fr_landmark.onnx"), new FaceDetectorOptions
                    {
                        ConfidenceThreshold = o.Detector.ConfidenceThreshold, TopK = o.Detector.TopK, NmsThreshold = o.Detector.NmsThreshold,
                        DetectorChannelOrder = o.Detector.DetectorChannelOrder, IntraOpThreads = o.IntraOpThreads,
                    });
                embedder = new OnnxFaceEmbedder(descriptor, onnx, o.IntraOpThreads, o.Precision);
                var xcos = XcosHeadFactory.TryCreateWeightDerived(descriptor, embedder, descriptorPath, o.Variant, o.Attention, o.Centre, o.Calibrate);
                if (o.Variant == XcosVariant.Learned)
                {
                    var headPath = o.LearnedHeadPath ?? LearnedHead.NextTo(descriptorPath)
                        ?? throw new FileNotFoundException($"no learned xCos head for '{descriptor.Name}': expected {LearnedHead.DefaultFileName} next to {descriptorPath}; train one with `xcos train --mode head --onnx-model {descriptorPath} --data FACES --out DIR` and put DIR/{LearnedHead.DefaultFileName} there");
                    learned = new LearnedHead(headPath, o.IntraOpThreads);
                    learned.CheckFits(descriptor, embedder.MapShape[0]);
                }
                var (decidedBy, threshold) = descriptor.Decision(learned is not null);
                return new Parts(o, modelsDir, descriptor, detector, embedder, xcos, learned, o.Threshold ?? threshold, decidedBy);
            }
            catch
            {
                detector?.Dispose();
                embedder?.Dispose();
                learned?.Dispose();
                throw;
            }
        }
    }
}
