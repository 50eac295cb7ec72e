using TorchSharp;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Numerics;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Verification;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Verification;

/// <summary>
/// Verification with a TorchSharp xCos checkpoint (<see cref="XcosModel"/>): its xCos score decides against the threshold,
/// and the cosine reported beside it is the frozen target backbone's when the model has one, else that of the flattened
/// grid embeddings. Faces are aligned 112x112 images, or photos aligned by the ONNX detector given in the options.
/// </summary>
/// <remarks>
/// Inference only: the model is switched to eval mode, every step runs in a dispose scope without gradients. The model
/// and the detector stay the caller's (not disposed here). libtorch's thread count is the caller's to set
/// (<see cref="TorchRuntime.Configure"/>).
/// </remarks>
public sealed class CheckpointFacePairVerifier : FacePairVerifier<CheckpointFaceEmbedding>
{
    /// <summary>Side of the aligned faces the xCos networks take.</summary>
    public const int AlignedSize = 112;

    private readonly XcosModel _model;
    private readonly CheckpointFacePairVerifierOptions _options;
    private readonly Device _device;

    /// <summary>A verifier that scores photo pairs with <paramref name="model"/>; the model stays owned by the caller.</summary>
    /// <exception cref="ArgumentOutOfRangeException">BatchSize is not positive.</exception>
    public CheckpointFacePairVerifier(XcosModel model, CheckpointFacePairVerifierOptions? options = null)
        : base((options ?? new()).Detector, false, AlignedSize, (options ?? new()).Detector is null, (options ?? new()).Threshold)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _options = options ?? new CheckpointFacePairVerifierOptions();
        if (_options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.BatchSize, "BatchSize must be positive");
        _device = model.parameters().First().device;
    }

    /// <summary>The TorchSharp xCos network that scores the pairs.</summary>
    public XcosModel Model => _model;

    /// <inheritdoc/>
    public override XcosVariant Variant => XcosVariant.Checkpoint;

    /// <inheritdoc/>
    public override string CosineSource => _model.BackboneTarget is null ? "grid" : "target";

    /// <inheritdoc/>
    public override string DecidedBy => "xcos";

    /// <inheritdoc/>
    protected override IReadOnlyList<CheckpointFaceEmbedding> EmbedFaces(IReadOnlyList<RgbImage> faces)
    {
        _model.eval();
        var result = new List<CheckpointFaceEmbedding>(faces.Count);
        for (int start = 0; start < faces.Count; start += _options.BatchSize)
        {
            int n = Math.Min(_options.BatchSize, faces.Count - start);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var x = Batch(faces, start, n).to(_device);
            var g = _model.Backbone.Grid(x);
            var grid = _options.Flip ? g.Grid + _model.Backbone.Grid(x.flip(3)).Grid.flip(3) : g.Grid;
            var att = _model.AttentionNet.Embed(grid);
            var vec = _model.BackboneTarget is { } target
                ? (_options.Flip ? target.Embed(x) + target.Embed(x.flip(3)) : target.Embed(x))
                : (_options.Flip ? nn.functional.normalize(grid.flatten(1), dim: 1) : g.Flat);
            var (grids, gridShape) = Rows(grid, n);
            var (atts, attShape) = Rows(att, n);
            var (vecs, _) = Rows(vec, n);
            for (int i = 0; i < n; i++) result.Add(new CheckpointFaceEmbedding(grids[i], gridShape, atts[i], attShape, vecs[i]));
        }
        return result;
    }

    /// <inheritdoc/>
    protected override string? CheckEmbedding(CheckpointFaceEmbedding embedding) =>
        VectorMath.HasDirection(embedding.CosineVector) && embedding.Grid.All(float.IsFinite) ? null
        : "the checkpoint gave a zero or non-finite embedding, which has no cosine";

    /// <inheritdoc/>
    protected override IReadOnlyList<FacePairScores> ScorePairs(IReadOnlyList<(CheckpointFaceEmbedding First, CheckpointFaceEmbedding Second)> pairs)
    {
        _model.eval();
        var result = new List<FacePairScores>(pairs.Count);
        for (int start = 0; start < pairs.Count; start += _options.BatchSize)
        {
            int n = Math.Min(_options.BatchSize, pairs.Count - start);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var part = Enumerable.Range(start, n).Select(i => pairs[i]).ToArray();
            var s = _model.Score(Stack(part, p => p.First.Grid, part[0].First.GridShape), Stack(part, p => p.First.AttentionEmbedding, part[0].First.AttentionShape),
                Stack(part, p => p.Second.Grid, part[0].First.GridShape), Stack(part, p => p.Second.AttentionEmbedding, part[0].First.AttentionShape));
            var xcos = s.Xcos.cpu().data<float>().ToArray();
            var maps = s.CosMap.cpu().reshape(n, -1).data<float>().ToArray();
            var weights = s.Attention.cpu().reshape(n, -1).data<float>().ToArray();
            int cells = maps.Length / n;
            for (int i = 0; i < n; i++)
                result.Add(new FacePairScores(xcos[i], VectorMath.Cosine(part[i].First.CosineVector, part[i].Second.CosineVector),
                    maps[(i * cells)..((i + 1) * cells)], weights[(i * cells)..((i + 1) * cells)]));
        }
        return result;
    }

    private Tensor Stack((CheckpointFaceEmbedding First, CheckpointFaceEmbedding Second)[] part, Func<(CheckpointFaceEmbedding First, CheckpointFaceEmbedding Second), float[]> pick, long[] shape)
    {
        int per = pick(part[0]).Length;
        var data = new float[part.Length * per];
        for (int i = 0; i < part.Length; i++) pick(part[i]).CopyTo(data, i * per);
        return tensor(data, [part.Length, .. shape]).to(_device);
    }

    /// <summary>Per-face float rows of a [n, ...] tensor and the shape of one row.</summary>
    private static (float[][] Rows, long[] Shape) Rows(Tensor t, int n)
    {
        var all = t.cpu().contiguous().data<float>().ToArray();
        int per = all.Length / n;
        return (Enumerable.Range(0, n).Select(i => all[(i * per)..((i + 1) * per)]).ToArray(), t.shape[1..]);
    }

    private Tensor Batch(IReadOnlyList<RgbImage> faces, int start, int n)
    {
        const int per = 3 * AlignedSize * AlignedSize;
        var data = new float[n * per];
        for (int i = 0; i < n; i++) FaceTensor.ToChw(faces[start + i], data.AsSpan(i * per, per), _options.Normalization);
        return tensor(data, [n, 3, AlignedSize, AlignedSize]);
    }
}
