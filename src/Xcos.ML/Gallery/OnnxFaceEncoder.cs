using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;
using Xcos.ML.Verification;

namespace Xcos.ML.Gallery;

/// <summary>
/// An ONNX face model (fr_feature or any descriptor) as a gallery encoder: fr_detect + fr_landmark find and align the
/// face, the model gives its embedding and last map. With the weight-derived xCos the face code is the cell features
/// u_c (Cells x Dim), from which <see cref="WeightDerivedXcos.ExplainCells"/> explains a pair; with a learned xCos head
/// (<see cref="XcosVariant.Learned"/>) it is the raw map (C x 7 x 7) the head reads. Either way a pair is explained
/// and re-ranked without a backbone pass, and a shortlist in one head call (<see cref="CompareMany"/>).
/// </summary>
/// <remarks>Thread-safe after construction (ONNX Runtime sessions run concurrently).</remarks>
public sealed class OnnxFaceEncoder : IFaceEncoder
{
    private readonly FaceDetector? _detector;
    private readonly OnnxFaceEmbedder _embedder;
    private readonly int _mapLength;

    /// <summary>Ends the code kind of a gallery whose map codes carry the embedding too (for a head that takes the cosine).</summary>
    public const string EmbeddingCodeSuffix = "+embedding";

    /// <summary>Loads the detector, the face model and its explainer.</summary>
    /// <param name="modelsDir">Models folder; null uses <see cref="ModelStore.ResolveDirectory"/>.</param>
    /// <param name="descriptorPath">Descriptor .json; null uses the shipped fr_feature descriptor.</param>
    /// <param name="intraOpThreads">ONNX Runtime threads per session; 0 lets ONNX Runtime choose.</param>
    /// <param name="needDetector">False for aligned faces only (fr_detect/fr_landmark are then not needed).</param>
    /// <param name="variant">Which xCos explains and re-ranks: weight-derived (default) or the learned head.</param>
    /// <param name="learnedHeadPath">The learned head for <see cref="XcosVariant.Learned"/>; null takes the one next to the descriptor.</param>
    /// <exception cref="FileNotFoundException">A model, the descriptor or the learned head is missing.</exception>
    /// <exception cref="InvalidDataException">The learned head does not fit the model, or the model has no weight-derived xCos.</exception>
    public OnnxFaceEncoder(string? modelsDir = null, string? descriptorPath = null, int intraOpThreads = 0, bool needDetector = true,
        XcosVariant variant = XcosVariant.Weights, string? learnedHeadPath = null)
    {
        if (variant is not (XcosVariant.Weights or XcosVariant.Learned))
            throw new ArgumentException($"xcos variant \"{variant.ToText()}\" is not available for ONNX face models; use weights or learned", nameof(variant));
        var dir = ModelStore.ResolveDirectory(modelsDir);
        descriptorPath ??= FaceModelDescriptor.ShippedPath();
        Descriptor = FaceModelDescriptor.Load(descriptorPath);
        var onnx = Descriptor.OnnxPath(dir, descriptorPath);
        if (needDetector)
            _detector = new FaceDetector(Path.Combine(dir, "fr_detect.onnx"), Path.Combine(dir, "fr_landmark.onnx"), new FaceDetectorOptions { IntraOpThreads = intraOpThreads });
        int embeddingDim;
        try
        {
            _embedder = new OnnxFaceEmbedder(Descriptor, onnx, intraOpThreads);
            // the gallery's weight-derived explanation is uncalibrated (the raw cell cosines and kernel or pair attention)
            var attention = Descriptor.Attention == "pair" ? WeightDerivedAttention.Pair : WeightDerivedAttention.Kernel;
            Xcos = XcosHeadFactory.TryCreateWeightDerived(Descriptor, _embedder, descriptorPath, variant, attention, calibrate: false);
            Head = Xcos?.Head;
            if (variant == XcosVariant.Learned)
            {
                var headPath = learnedHeadPath ?? LearnedHead.NextTo(descriptorPath)
                    ?? throw new FileNotFoundException($"no learned xCos head for '{Descriptor.Name}': expected {LearnedHead.DefaultFileName} next to {descriptorPath}");
                Learned = new LearnedHead(headPath, intraOpThreads);
                Learned.CheckFits(Descriptor, _embedder.MapShape[0]);
            }
            embeddingDim = _embedder.Embed(new RgbImage(Descriptor.InputSize, Descriptor.InputSize)).Embedding.Length;
        }
        catch
        {
            _detector?.Dispose();
            _embedder?.Dispose();
            Learned?.Dispose();
            throw;
        }
        // the tensor settings change every embedding, so they are part of the model's identity
        var settings = $"input={Descriptor.InputSize};order={Descriptor.ColorOrder};mean={Descriptor.Mean:R};scale={Descriptor.Scale:R};map={_embedder.FeatureMapName};emb={_embedder.EmbeddingName}";
        _mapLength = _embedder.MapShape.Aggregate(1, (a, b) => a * b);
        // a head that blends in the cosine needs both embeddings: its codes carry the embedding after the map
        Model = Learned is null
            ? new GalleryModelStamp(Descriptor.Name, GalleryModelStamp.HashOf(onnx, settings), embeddingDim, Head!.Cells * Head.Dim)
            : new GalleryModelStamp(Descriptor.Name, GalleryModelStamp.HashOf(onnx, settings), embeddingDim, _mapLength + (Learned.NeedsEmbeddings ? embeddingDim : 0),
                GalleryModelStamp.MapCodes + _embedder.FeatureMapName + (Learned.NeedsEmbeddings ? EmbeddingCodeSuffix : ""));
    }

    /// <summary>The face model's descriptor: files, input size and normalisation, threshold.</summary>
    public FaceModelDescriptor Descriptor { get; }
    /// <summary>The folded affine head (weight-derived face codes are its cell features); null for a two-branch learned-xCos model.</summary>
    public WeightDerivedHead? Head { get; }
    /// <summary>The weight-derived explainer used by <see cref="Compare"/> without a learned head; null where the model has none.</summary>
    public WeightDerivedXcos? Xcos { get; }
    /// <summary>The learned xCos head that explains and re-ranks (<see cref="XcosVariant.Learned"/>), else null.</summary>
    public LearnedHead? Learned { get; }
    /// <summary>The ONNX Runtime session of the face model (batched embeddings and maps).</summary>
    public OnnxFaceEmbedder Embedder => _embedder;
    /// <summary>Which xCos the codes serve: <see cref="XcosVariant.Learned"/> or <see cref="XcosVariant.Weights"/>.</summary>
    public XcosVariant Variant => Learned is null ? XcosVariant.Weights : XcosVariant.Learned;

    /// <inheritdoc/>
    public GalleryModelStamp Model { get; }
    /// <inheritdoc/>
    public double? Threshold => Descriptor.Threshold;
    /// <inheritdoc/>
    public int FaceSize => Descriptor.InputSize;

    /// <inheritdoc/>
    public FaceEncoding Encode(RgbImage photo, bool aligned = false)
    {
        var (located, count, failure) = FaceEncoding.Locate(photo, aligned, _detector, "this encoder was built for aligned faces only (needDetector: false)");
        if (failure is not null) return failure;
        var face = located!;
        if (face.Width != FaceSize || face.Height != FaceSize) face = ImageOps.Resize(face, FaceSize, FaceSize);
        var e = _embedder.Embed(face);
        return new FaceEncoding(FaceStatus.Ok, null, e.Embedding, CodeOf(e.Embedding, e.FeatureMap), face, count);
    }

    /// <summary>
    /// The face code of an embedding and map of this model: the weight-derived head's cell features, or for a learned
    /// head the whole map (followed by the embedding when the head blends in the cosine, <see cref="LearnedHead.NeedsEmbeddings"/>).
    /// </summary>
    public float[] CodeOf(float[] embedding, float[] featureMap)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        ArgumentNullException.ThrowIfNull(featureMap);
        if (Learned is null) return Head!.CellFeatures(featureMap);
        return Learned.NeedsEmbeddings ? [.. featureMap, .. embedding] : featureMap;
    }

    /// <inheritdoc/>
    public IReadOnlyList<FaceEncoding> EncodeMany(IReadOnlyList<RgbImage> photos, bool aligned = false)
    {
        ArgumentNullException.ThrowIfNull(photos);
        var result = new FaceEncoding[photos.Count];
        var located = new List<(int Index, RgbImage Face, int Count)>();
        for (int i = 0; i < photos.Count; i++)
        {
            var (face, count, failure) = FaceEncoding.Locate(photos[i], aligned, _detector, "this encoder was built for aligned faces only (needDetector: false)");
            if (failure is not null) result[i] = failure;
            else located.Add((i, face!.Width != FaceSize || face.Height != FaceSize ? ImageOps.Resize(face, FaceSize, FaceSize) : face, count));
        }
        var embedded = _embedder.Embed(located.Select(l => l.Face).ToList());
        for (int k = 0; k < located.Count; k++)
        {
            var (i, face, count) = located[k];
            result[i] = new FaceEncoding(FaceStatus.Ok, null, embedded[k].Embedding, CodeOf(embedded[k].Embedding, embedded[k].FeatureMap), face, count);
        }
        return result;
    }

    /// <inheritdoc/>
    public PairExplanation Compare(float[] probeCode, float[] galleryCode) => CompareMany(probeCode, [galleryCode])[0];

    /// <summary>
    /// The pair head on a probe and each gallery code, in one call: the learned head scores them all in one batched
    /// ONNX Runtime run, the weight-derived one works out the probe's side once (<see cref="WeightDerivedXcos.ExplainCellsMany"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A code of the wrong length.</exception>
    public IReadOnlyList<PairExplanation> CompareMany(float[] probeCode, IReadOnlyList<float[]> galleryCodes)
    {
        ArgumentNullException.ThrowIfNull(probeCode);
        ArgumentNullException.ThrowIfNull(galleryCodes);
        int len = Model.CodeLength;
        if (probeCode.Length != len || galleryCodes.Any(c => c.Length != len))
            throw new ArgumentException($"face codes must hold {len} floats, got {probeCode.Length} and {string.Join(", ", galleryCodes.Select(c => c.Length).Distinct())}");
        if (galleryCodes.Count == 0) return [];
        if (Learned is null)
            return Xcos!.ExplainCellsMany(probeCode, galleryCodes)
                .Select(ex => new PairExplanation(ex.Xcos, ex.CosMap, ex.Attention, ex.Contributions, Head!.Height)).ToArray();
        int n = galleryCodes.Count, map = _mapLength;
        var probes = new float[n * map];
        var gallery = new float[n * map];
        int dim = len - map;
        var probeEmbeddings = new float[n * dim];
        var galleryEmbeddings = new float[n * dim];
        for (int i = 0; i < n; i++)
        {
            probeCode.AsSpan(0, map).CopyTo(probes.AsSpan(i * map));
            galleryCodes[i].AsSpan(0, map).CopyTo(gallery.AsSpan(i * map));
            probeCode.AsSpan(map).CopyTo(probeEmbeddings.AsSpan(i * dim));
            galleryCodes[i].AsSpan(map).CopyTo(galleryEmbeddings.AsSpan(i * dim));
        }
        return Learned.Explain(probes, gallery, n, probeEmbeddings, galleryEmbeddings).Select(r => new PairExplanation(r.Xcos, r.CosMap, r.Attention, null, 7)).ToArray();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _detector?.Dispose();
        _embedder.Dispose();
        Learned?.Dispose();
    }
}
