using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>Squeeze-excitation: global average pool, 1x1 conv C->C/r, ReLU, 1x1 conv C/r->C, sigmoid gate.</summary>
public sealed class SqueezeExcitation : Module<Tensor, Tensor>
{
    private readonly AdaptiveAvgPool2d avg_pool;
    private readonly Conv2d fc1;
    private readonly ReLU relu;
    private readonly Conv2d fc2;
    private readonly Sigmoid sigmoid;

    /// <summary>Creates the block for <paramref name="channels"/> channels and reduction <paramref name="reduction"/> (16 in IR-SE).</summary>
    public SqueezeExcitation(int channels, int reduction = 16) : base(nameof(SqueezeExcitation))
    {
        avg_pool = AdaptiveAvgPool2d(1);
        fc1 = Conv2d(channels, channels / reduction, 1, bias: false);
        relu = ReLU();
        fc2 = Conv2d(channels / reduction, channels, 1, bias: false);
        sigmoid = Sigmoid();
        RegisterComponents();
    }

    /// <summary>Scales each channel of <paramref name="x"/> (N, C, H, W) by its gate in (0, 1).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var w = sigmoid.call(fc2.call(relu.call(fc1.call(avg_pool.call(x)))));
        return (x * w).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Improved residual unit: <c>res_layer</c> = BN, conv3x3, PReLU, conv3x3(stride), BN[, SE]; plus
/// <c>shortcut_layer</c> = MaxPool(1, stride) when depth is kept, else conv1x1(stride) + BN.
/// </summary>
public sealed class IResNetUnit : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> shortcut_layer;
    private readonly Sequential res_layer;

    /// <summary>A unit from <paramref name="inChannels"/> to <paramref name="outChannels"/> channels, downsampling by <paramref name="stride"/>; <paramref name="se"/> adds squeeze-excitation (IR-SE).</summary>
    public IResNetUnit(int inChannels, int outChannels, int stride, bool se) : base(nameof(IResNetUnit))
    {
        InChannels = inChannels; OutChannels = outChannels; Stride = stride; HasSqueezeExcitation = se;
        shortcut_layer = inChannels == outChannels
            ? MaxPool2d(1, stride)
            : Sequential(Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), BatchNorm2d(outChannels));
        var layers = new List<Module<Tensor, Tensor>>
        {
            BatchNorm2d(inChannels),
            Conv2d(inChannels, outChannels, 3, stride: 1, padding: 1, bias: false),
            PReLU(outChannels),
            Conv2d(outChannels, outChannels, 3, stride: stride, padding: 1, bias: false),
            BatchNorm2d(outChannels),
        };
        if (se) layers.Add(new SqueezeExcitation(outChannels));
        res_layer = Sequential(layers);
        RegisterComponents();
    }

    /// <summary>Channels of the input map.</summary>
    public int InChannels { get; }
    /// <summary>Channels of the output map.</summary>
    public int OutChannels { get; }
    /// <summary>Spatial downsampling factor (1 or 2; the first unit of a stage has 2).</summary>
    public int Stride { get; }
    /// <summary>Whether the residual branch ends in a <see cref="SqueezeExcitation"/> gate (IR-SE).</summary>
    public bool HasSqueezeExcitation { get; }

    /// <summary>Residual branch plus shortcut: (N, InChannels, H, W) to (N, OutChannels, H / Stride, W / Stride).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (res_layer.call(x) + shortcut_layer.call(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// IR / IR-SE backbone (InsightFace_Pytorch layout, as in xCos) on 3x112x112 input.
/// Children: <c>input_layer</c> (conv3x3-BN-PReLU), <c>body</c> (units), <c>output_layer</c>
/// (BN2d, Dropout, Flatten, Linear(25088,512), BN1d) and, for the grid variant, <c>conv1x1</c>.
/// </summary>
public sealed class IResNet : FaceBackbone
{
    /// <summary>Depth of each of the four stages.</summary>
    public static readonly IReadOnlyList<int> StageDepths = [64, 128, 256, 512];

    private readonly Sequential input_layer;
    private readonly Sequential body;
    private readonly Sequential output_layer;

    /// <param name="stages">Units per stage, four entries (e.g. [3,4,14,3] for 50 layers).</param>
    /// <param name="se">IR-SE units (squeeze-excitation, reduction 16) instead of IR units.</param>
    /// <param name="grid">Adds the xCos grid layer <c>conv1x1</c> (the output layer is kept: checkpoints carry it).</param>
    /// <param name="gridChannels">Grid cell channels (32 in xCos).</param>
    /// <param name="dropout">Dropout of the output layer (0.6 in the original).</param>
    /// <param name="gridSize">Side of the xCos grid (7 in xCos; see <see cref="FaceBackbone.GridSize"/>).</param>
    public IResNet(IReadOnlyList<int> stages, bool se, bool grid = false, int gridChannels = 32, double dropout = 0.6, int gridSize = MapSize)
        : base(nameof(IResNet), grid, gridChannels, gridSize)
    {
        ArgumentNullException.ThrowIfNull(stages);
        if (stages.Count != 4 || stages.Any(n => n < 1))
            throw new ArgumentException($"IResNet needs four stage counts >= 1, got [{string.Join(",", stages)}].", nameof(stages));
        Stages = stages.ToArray();
        SqueezeExcitation = se;
        input_layer = Sequential(Conv2d(3, 64, 3, stride: 1, padding: 1, bias: false), BatchNorm2d(64), PReLU(64));
        var units = new List<Module<Tensor, Tensor>>();
        var cin = 64;
        for (var s = 0; s < 4; s++)
            for (var i = 0; i < stages[s]; i++)
            {
                units.Add(new IResNetUnit(cin, StageDepths[s], i == 0 ? 2 : 1, se));
                cin = StageDepths[s];
            }
        body = Sequential(units);
        output_layer = Sequential(
            BatchNorm2d(FeatureChannels),
            Dropout(dropout),
            Flatten(1),
            Linear(FeatureChannels * MapSize * MapSize, 512),
            BatchNorm1d(512));
        register_module("input_layer", input_layer);
        register_module("body", body);
        RegisterGridLayer();
        register_module("output_layer", output_layer);
    }

    /// <summary>Units per stage.</summary>
    public IReadOnlyList<int> Stages { get; }

    /// <summary>True for IR-SE units.</summary>
    public bool SqueezeExcitation { get; }

    /// <inheritdoc />
    public override string Architecture => (SqueezeExcitation ? "ir_se" : "ir") + "[" + string.Join(",", Stages) + "]";

    /// <summary>The units of <c>body</c>, in order.</summary>
    public IEnumerable<IResNetUnit> Units => body.children().Cast<IResNetUnit>();

    /// <inheritdoc />
    public override Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        return body.call(input_layer.call(x)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override Tensor PlainHead(Tensor features) => output_layer.call(features);
}
