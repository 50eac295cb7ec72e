using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.Gallery;

/// <summary>
/// An ONNX face model (fr_feature or any descriptor) as a gallery encoder: fr_detect + fr_landmark find and align the
/// face, the model gives its embedding and last map, and the face code is the weight-derived cell features u_c
/// (Cells x Dim), from which <see cref="WeightDerivedXcos.ExplainCells"/> explains a pair without the backbone.
/// </summary>
/// <remarks>Thread-safe after construction (ONNX Runtime sessions run concurrently).</remarks>
public sealed class OnnxFaceEncoder : IFaceEncoder
{
    private readonly FaceDetector? _detector;
    private readonly OnnxFaceEmbedder _embedder;

    /// <summary>Loads the detector, the face model and its explainer.</summary>
    /// <param name="modelsDir">Models folder; null uses <see cref="ModelStore.ResolveDirectory"/>.</param>
    /// <param name="descriptorPath">Descriptor .json; null uses the shipped fr_feature descriptor.</param>
    /// <param name="intraOpThreads">ONNX Runtime threads per session; 0 lets ONNX Runtime choose.</param>
    /// <param name="needDetector">False for aligned faces only (fr_detect/fr_landmark are then not needed).</param>
    /// <exception cref="FileNotFoundException">A model or the descriptor is missing.</exception>
    public OnnxFaceEncoder(string? modelsDir = null, string? descriptorPath = null, int intraOpThreads = 0, bool needDetector = true)
    {
        var dir = ModelStore.ResolveDirectory(modelsDir);
        descriptorPath ??= FaceModelDescriptor.ShippedPath();
        Descriptor = FaceModelDescriptor.Load(descriptorPath);
        var onnx = Descriptor.OnnxPath(dir, descriptorPath);
        if (needDetector)
            _detector = new FaceDetector(Path.Combine(dir, "fr_detect.onnx"), Path.Combine(dir, "fr_landmark.onnx"), new FaceDetectorOptions { IntraOpThreads = intraOpThreads });
        try
        {
            _embedder = new OnnxFaceEmbedder(Descriptor, onnx, intraOpThreads);
            Head = WeightDerivedHead.Extract(_embedder.Model, _embedder.FeatureMapName, _embedder.EmbeddingName);
            float[]? means = null;
            if (Descriptor.CalibrationFile is { } cal)
                means = CellMeansFile.Read(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(descriptorPath))!, cal), Head.Cells, Head.Dim).Means;
            var attention = Descriptor.Attention == "pair" ? WeightDerivedAttention.Pair : WeightDerivedAttention.Kernel;
            Xcos = new WeightDerivedXcos(Head, means, new WeightDerivedXcosOptions { Attention = attention, Centre = Descriptor.Centre && means is not null });
        }
        catch
        {
            _detector?.Dispose();
            _embedder?.Dispose();
            throw;
        }
        // the tensor settings change every embedding, so they are part of the model's identity
        var settings = $"input={Descriptor.InputSize};order={Descriptor.ColorOrder};mean={Descriptor.Mean:R};scale={Descriptor.Scale:R};map={_embedder.FeatureMapName};emb={_embedder.EmbeddingName}";
        Model = new GalleryModelStamp(Descriptor.Name, GalleryModelStamp.HashOf(onnx, settings), Head.Dim, Head.Cells * Head.Dim);
    }

    /// <summary>The face model's descriptor: files, input size and normalisation, threshold.</summary>
    public FaceModelDescriptor Descriptor { get; }
    /// <summary>The folded affine head (face codes are its cell features).</summary>
    public WeightDerivedHead Head { get; }
    /// <summary>The weight-derived explainer used by <see cref="Compare"/>.</summary>
    public WeightDerivedXcos Xcos { get; }

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
        return new FaceEncoding(FaceStatus.Ok, null, e.Embedding, Head.CellFeatures(e.FeatureMap), face, count);
    }

    /// <inheritdoc/>
    public PairExplanation Compare(float[] probeCode, float[] galleryCode)
    {
        if (probeCode.Length != Model.CodeLength || galleryCode.Length != Model.CodeLength)
            throw new ArgumentException($"face codes must hold {Model.CodeLength} floats, got {probeCode.Length} and {galleryCode.Length}");
        var ex = Xcos.ExplainCells(probeCode, galleryCode);
        return new PairExplanation(ex.Xcos, ex.CosMap, ex.Attention, ex.Contributions, Head.Height);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _detector?.Dispose();
        _embedder.Dispose();
    }
}
