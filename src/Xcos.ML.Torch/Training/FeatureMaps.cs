using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// A frozen face model seen as what head-only xCos training needs: its last feature map (C x 7 x 7, C = 512 for
/// IR/IR-SE/MobileFaceNet) and its L2-normalised embedding, for a batch of preprocessed images. A TorchSharp backbone
/// (<see cref="TorchFeatureMapSource"/>) implements it here; an ONNX model exposing both outputs can implement it too.
/// </summary>
public interface IFeatureMapSource
{
    /// <summary>Channels of the feature map.</summary>
    int Channels { get; }
    /// <summary>Side of the (square) feature map.</summary>
    int MapSize { get; }
    /// <summary>Length of the embedding.</summary>
    int EmbeddingSize { get; }
    /// <summary>What the source is (for logs).</summary>
    string Description { get; }

    /// <summary>
    /// Computes maps and embeddings of <paramref name="count"/> images given as CHW floats (count x 3 x 112 x 112,
    /// already normalised as the model expects). Writes count x Channels x MapSize x MapSize map values and
    /// count x EmbeddingSize L2-normalised embedding values.
    /// </summary>
    void Compute(ReadOnlySpan<float> images, int count, Span<float> maps, Span<float> embeddings);
}

/// <summary>A TorchSharp backbone as an <see cref="IFeatureMapSource"/> (eval mode, no gradients).</summary>
public sealed class TorchFeatureMapSource : IFeatureMapSource
{
    private readonly FaceBackbone _backbone;
    private readonly Device _device;

    /// <summary>Wraps <paramref name="backbone"/> (switched to eval mode; its parameters are frozen).</summary>
    public TorchFeatureMapSource(FaceBackbone backbone, Device? device = null)
    {
        _backbone = backbone ?? throw new ArgumentNullException(nameof(backbone));
        _device = device ?? CPU;
        _backbone.to(_device);
        _backbone.eval();
        foreach (var p in _backbone.parameters()) p.requires_grad = false;
    }

    /// <summary>Builds a plain backbone (<paramref name="arch"/>, stages) and loads <paramref name="checkpoint"/> into it
    /// (an xCos checkpoint's <c>backbone_target.*</c> keys, or a plain backbone state dict).</summary>
    public static TorchFeatureMapSource FromCheckpoint(string checkpoint, string arch = "ir_se", IReadOnlyList<int>? stages = null, int depth = 50, Device? device = null)
    {
        var (kind, nameDepth) = BackboneFactory.Parse(arch);
        var backbone = kind == "mobilefacenet" ? BackboneFactory.Create(arch) : BackboneFactory.Create(arch, stages: stages ?? BackboneFactory.StagesFor(nameDepth ?? depth));
        TrainerSupport.LoadTarget(backbone, checkpoint);
        return new TorchFeatureMapSource(backbone, device);
    }

    /// <summary>The frozen backbone whose last feature maps and embeddings this source returns.</summary>
    public FaceBackbone Backbone => _backbone;
    /// <inheritdoc />
    public int Channels => FaceBackbone.FeatureChannels;
    /// <inheritdoc />
    public int MapSize => FaceBackbone.MapSize;
    /// <inheritdoc />
    public int EmbeddingSize => 512;
    /// <inheritdoc />
    public string Description => _backbone.Architecture;

    /// <inheritdoc />
    public void Compute(ReadOnlySpan<float> images, int count, Span<float> maps, Span<float> embeddings)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = tensor(images.ToArray(), [count, 3, 112, 112]).to(_device);
        var f = _backbone.Features(x);
        // the plain head is not exposed on its own, so the embedding runs the trunk a second time (cached once per image)
        var e = _backbone.Embed(x);
        f.cpu().contiguous().data<float>().ToArray().AsSpan().CopyTo(maps);
        e.cpu().contiguous().data<float>().ToArray().AsSpan().CopyTo(embeddings);
    }
}

/// <summary>
/// Feature maps and embeddings of a set of images computed once by an <see cref="IFeatureMapSource"/>, optionally
/// also of the mirrored images (variant 1) for flip augmentation. About 100 KB per image and variant for 512x7x7 maps.
/// </summary>
public sealed class FeatureMapCache
{
    private FeatureMapCache(int count, int variants, int channels, int mapSize, int embeddingSize, float[] maps, float[] embeddings)
    {
        Count = count; Variants = variants; Channels = channels; MapSize = mapSize; EmbeddingSize = embeddingSize;
        Maps = maps; Embeddings = embeddings;
    }

    /// <summary>Images whose maps are cached.</summary>
    public int Count { get; }
    /// <summary>1 (as is) or 2 (as is, mirrored).</summary>
    public int Variants { get; }
    /// <summary>Channels of each cached feature map.</summary>
    public int Channels { get; }
    /// <summary>Side of each cached feature map in cells (7 for 112x112 faces).</summary>
    public int MapSize { get; }
    /// <summary>Length of each cached embedding.</summary>
    public int EmbeddingSize { get; }
    /// <summary>Floats of one map.</summary>
    public int MapFloats => Channels * MapSize * MapSize;
    /// <summary>All maps, [Count, Variants, C, H, W].</summary>
    public float[] Maps { get; }
    /// <summary>All embeddings, [Count, Variants, E].</summary>
    public float[] Embeddings { get; }

    /// <summary>Map of one image variant.</summary>
    public ReadOnlySpan<float> Map(int image, int variant) => Maps.AsSpan((image * Variants + variant) * MapFloats, MapFloats);
    /// <summary>Embedding of one image variant.</summary>
    public ReadOnlySpan<float> Embedding(int image, int variant) => Embeddings.AsSpan((image * Variants + variant) * EmbeddingSize, EmbeddingSize);

    /// <summary>
    /// Decodes every image (prefetched on a worker thread) and runs the source on batches.
    /// </summary>
    /// <exception cref="InvalidDataException">An image cannot be read (the message names the file).</exception>
    public static FeatureMapCache Build(IFeatureMapSource source, IReadOnlyList<string> paths, FaceImageLoader loader,
        bool flipped = true, int batchSize = 64, Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        int variants = flipped ? 2 : 1, f = loader.Options.ImageFloats;
        int mapFloats = source.Channels * source.MapSize * source.MapSize, e = source.EmbeddingSize;
        var maps = new float[(long)paths.Count * variants * mapFloats];
        var embs = new float[(long)paths.Count * variants * e];
        int chunks = (paths.Count + batchSize - 1) / batchSize;
        var prefetch = new PrefetchLoader<(int Start, int N, float[] Data)>(chunks, (c, ct) =>
        {
            int start = c * batchSize, n = Math.Min(batchSize, paths.Count - start);
            var data = new float[n * variants * f];
            for (int k = 0; k < n; k++)
                for (int v = 0; v < variants; v++)
                {
                    ct.ThrowIfCancellationRequested();
                    loader.Load(paths[start + k], data.AsSpan((k * variants + v) * f, f), flip: v == 1);
                }
            return (start, n, data);
        });
        foreach (var (start, n, data) in prefetch.Read(0, cancellationToken))
        {
            // rows are (image, variant) in order, as the cache stores them
            source.Compute(data, n * variants,
                maps.AsSpan(start * variants * mapFloats, n * variants * mapFloats),
                embs.AsSpan(start * variants * e, n * variants * e));
            progress?.Invoke(start + n, paths.Count);
        }
        return new FeatureMapCache(paths.Count, variants, source.Channels, source.MapSize, e, maps, embs);
    }
}

/// <summary>
/// The trainable part of head-only xCos: the grid layer <c>conv1x1</c> (conv C->G 1x1 with bias, BN, PReLU) on a
/// frozen model's feature maps and the attention branch <c>attention</c>. <see cref="XcosStateDict"/> names the weights
/// as in an xCos checkpoint (<c>backbone.conv1x1.*</c>, <c>attention.*</c>).
/// </summary>
public sealed class XcosGridHead : Module<Tensor, Tensor, XcosScores>
{
    private readonly Sequential conv1x1;
    private readonly XcosAttention attention;

    /// <summary>Creates the head for <paramref name="inChannels"/>-channel maps and <paramref name="gridChannels"/>-channel grid cells.</summary>
    public XcosGridHead(int inChannels = 512, int gridChannels = 32, double temperature = 1.0,
        AttentionNormalization normalization = AttentionNormalization.Softmax) : base(nameof(XcosGridHead))
    {
        conv1x1 = Sequential(Conv2d(inChannels, gridChannels, 1, stride: 1, padding: 0L, bias: true), BatchNorm2d(gridChannels), PReLU(gridChannels));
        attention = new XcosAttention(gridChannels, temperature, normalization);
        RegisterComponents();
    }

    /// <summary>The attention branch (child <c>attention</c>), trained with the grid layer.</summary>
    public XcosAttention Attention => attention;

    /// <summary>Grid [B,G,7,7] of feature maps [B,C,7,7].</summary>
    public Tensor Grid(Tensor maps) => conv1x1.call(maps);

    /// <summary>xCos of two batches of grids.</summary>
    public XcosScores ScoreGrids(Tensor grid1, Tensor grid2)
    {
        using var scope = NewDisposeScope();
        var att = attention.call(grid1, grid2);
        var cmap = PatchCosine.Map(grid1, grid2);
        var x = PatchCosine.Xcos(cmap, att);
        return new XcosScores(x.MoveToOuterDisposeScope(), cmap[.., 0].MoveToOuterDisposeScope(), att[.., 0].MoveToOuterDisposeScope());
    }

    /// <summary>xCos of two batches of feature maps.</summary>
    public override XcosScores forward(Tensor maps1, Tensor maps2)
    {
        using var scope = NewDisposeScope();
        var s = ScoreGrids(Grid(maps1), Grid(maps2));
        return new XcosScores(s.Xcos.MoveToOuterDisposeScope(), s.CosMap.MoveToOuterDisposeScope(), s.Attention.MoveToOuterDisposeScope());
    }

    /// <summary>The weights under xCos checkpoint names (caller disposes nothing: these are the live tensors).</summary>
    public Dictionary<string, Tensor> XcosStateDict() =>
        state_dict().ToDictionary(kv => kv.Key.StartsWith("conv1x1.", StringComparison.Ordinal) ? "backbone." + kv.Key : kv.Key, kv => kv.Value, StringComparer.Ordinal);
}
