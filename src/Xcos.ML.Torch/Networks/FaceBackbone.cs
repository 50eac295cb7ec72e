using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>Grid output of an xCos backbone.</summary>
/// <param name="Flat">L2-normalised flattened grid, [B, C*G*G] (1568 for C = 32 on the default 7x7 grid).</param>
/// <param name="Grid">Grid feature before normalisation, [B, C, G, G].</param>
public sealed record GridOutput(Tensor Flat, Tensor Grid);

/// <summary>
/// A face backbone on 3x112x112 input with a 512x7x7 final map and two heads:
/// the plain 512-d embedding head and (grid variant) the xCos 1x1 grid layer named <c>conv1x1</c>.
/// </summary>
public abstract class FaceBackbone : Module<Tensor, Tensor>
{
    /// <summary>Channels of the final feature map.</summary>
    public const int FeatureChannels = 512;

    /// <summary>Side of the final feature map (112 / 16).</summary>
    public const int MapSize = 7;

    // named as the state-dict child, since TorchSharp's RegisterComponents names children after fields
    private Sequential? conv1x1;

    /// <summary>Grid layer (conv 512->C with bias, BN, PReLU); null for a plain backbone.</summary>
    protected Sequential? GridLayer => conv1x1;

    /// <summary>With <paramref name="grid"/>, the backbone ends in the grid layer of <paramref name="gridChannels"/> channels (xCos feature maps) on a <paramref name="gridSize"/>-sided grid; without, in the plain embedding.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gridChannels"/> is not positive for a grid backbone.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gridSize"/> is outside 1..7.</exception>
    protected FaceBackbone(string name, bool grid, int gridChannels, int gridSize = MapSize) : base(name)
    {
        if (grid && gridChannels <= 0) throw new ArgumentOutOfRangeException(nameof(gridChannels), "must be positive");
        if (gridSize is < 1 or > MapSize)
            throw new ArgumentOutOfRangeException(nameof(gridSize), gridSize, $"the grid side must be 1..{MapSize} (the grid layer's valid convolution shrinks the {MapSize}x{MapSize} map)");
        IsGrid = grid;
        GridChannels = grid ? gridChannels : 0;
        GridSize = gridSize;
    }

    /// <summary>True for the xCos grid variant (has <c>conv1x1</c>).</summary>
    public bool IsGrid { get; }

    /// <summary>Channels of each grid cell (32 in xCos); 0 for a plain backbone.</summary>
    public int GridChannels { get; }

    /// <summary>Side G of the xCos grid: 7 (default) is the 1x1 grid layer of the original; a smaller G uses a
    /// (8-G)x(8-G) grid-layer kernel without padding on the 7x7 map, so the checkpoint's kernel shape tells G.</summary>
    public int GridSize { get; }

    /// <summary>Length of the flattened grid embedding (C*G*G).</summary>
    public int GridEmbeddingSize => GridChannels * GridSize * GridSize;

    /// <summary>Backbone description, e.g. "ir_se[3,4,14,3]" or "mobilefacenet".</summary>
    public abstract string Architecture { get; }

    /// <summary>Runs the trunk: [B,3,112,112] -> [B,512,7,7].</summary>
    public abstract Tensor Features(Tensor x);

    /// <summary>Plain head on a 512x7x7 map -> [B,512] before normalisation.</summary>
    protected abstract Tensor PlainHead(Tensor features);

    /// <summary>L2-normalised 512-d embedding from the plain head (the ArcFace embedding).</summary>
    public Tensor Embed(Tensor x)
    {
        using var scope = NewDisposeScope();
        return L2Normalize(PlainHead(CheckMapSize(Features(x), x))).MoveToOuterDisposeScope();
    }

    // The trunk's map must be 7x7: the plain head's weights are sized for it, and a smaller grid comes from the grid
    // layer's kernel, not from the input size. Another map (a 224x224 input gives 14x14) is refused here, naming it,
    // instead of failing later in a shape mismatch.
    private static Tensor CheckMapSize(Tensor features, Tensor input)
    {
        long h = features.shape[^2], w = features.shape[^1];
        if (h != MapSize || w != MapSize)
            throw new NotSupportedException($"the backbone's last feature map is {h}x{w} for a {input.shape[^2]}x{input.shape[^1]} input; " +
                $"xCos here needs a {MapSize}x{MapSize} last map ({MapSize * 16}x{MapSize * 16} input); a smaller grid comes from the grid layer (GridSize).");
        return features;
    }

    /// <summary>Grid feature [B,C,G,G] and its flattened L2-normalised embedding (grid variant only).</summary>
    public GridOutput Grid(Tensor x)
    {
        if (GridLayer is null) throw new InvalidOperationException($"{Architecture} was built without the grid layer (grid: false).");
        using var scope = NewDisposeScope();
        var g = GridLayer.call(CheckMapSize(Features(x), x));
        var flat = L2Normalize(g.flatten(1));
        return new GridOutput(flat.MoveToOuterDisposeScope(), g.MoveToOuterDisposeScope());
    }

    /// <summary>Grid variant: the flattened L2-normalised grid embedding; plain: <see cref="Embed"/>.</summary>
    public override Tensor forward(Tensor x) => IsGrid ? Grid(x).Flat : Embed(x);

    /// <summary>x / ||x||_2 over dim 1, as the original (no epsilon).</summary>
    public static Tensor L2Normalize(Tensor x) => x / x.norm(1, true, 2);

    /// <summary>Registers <c>conv1x1</c> when this is a grid backbone; call after the trunk is registered.</summary>
    protected void RegisterGridLayer()
    {
        if (!IsGrid) return;
        conv1x1 = Sequential(
            Conv2d(FeatureChannels, GridChannels, MapSize - GridSize + 1, stride: 1, padding: 0L, bias: true),
            BatchNorm2d(GridChannels),
            PReLU(GridChannels));
        register_module("conv1x1", conv1x1);
    }
}
