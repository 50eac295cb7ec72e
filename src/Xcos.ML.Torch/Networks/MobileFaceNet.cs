using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>Conv (no bias), BN and optionally PReLU, with children <c>conv</c>, <c>bn</c>[, <c>prelu</c>] (InsightFace_Pytorch names).</summary>
public sealed class ConvBlock : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;
    private readonly PReLU? prelu;

    /// <summary>A square <paramref name="kernel"/> convolution; <paramref name="groups"/> equal to the channels makes it depthwise; <paramref name="activation"/> false leaves out the PReLU (linear block).</summary>
    public ConvBlock(int inChannels, int outChannels, int kernel, int stride, int padding, int groups = 1, bool activation = true)
        : base(nameof(ConvBlock))
    {
        conv = Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, groups: groups, bias: false);
        bn = BatchNorm2d(outChannels);
        if (activation) prelu = PReLU(outChannels);
        RegisterComponents();
    }

    /// <summary>conv, BN, then PReLU when the block has one.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn.call(conv.call(x));
        if (prelu is not null) y = prelu.call(y);
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// MobileFaceNet bottleneck: 1x1 expansion (<c>conv</c>), depthwise 3x3 (<c>conv_dw</c>), linear 1x1 projection
/// (<c>project</c>), with an identity shortcut when <c>residual</c> is set.
/// </summary>
public sealed class DepthWiseBlock : Module<Tensor, Tensor>
{
    private readonly ConvBlock conv;
    private readonly ConvBlock conv_dw;
    private readonly ConvBlock project;
    private readonly bool residual;

    /// <summary>A bottleneck expanding to <paramref name="expanded"/> channels; <paramref name="residual"/> needs equal channels and stride 1.</summary>
    public DepthWiseBlock(int inChannels, int outChannels, int expanded, int stride, bool residual) : base(nameof(DepthWiseBlock))
    {
        conv = new ConvBlock(inChannels, expanded, 1, 1, 0);
        conv_dw = new ConvBlock(expanded, expanded, 3, stride, 1, groups: expanded);
        project = new ConvBlock(expanded, outChannels, 1, 1, 0, activation: false);
        this.residual = residual;
        RegisterComponents();
    }

    /// <summary>Expansion, depthwise, projection, plus the input when residual.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = project.call(conv_dw.call(conv.call(x)));
        if (residual) y = x + y;
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// MobileFaceNet (Chen et al. 2018) in the InsightFace_Pytorch layout: <c>conv1</c> (3x3 s2, 64), <c>conv2_dw</c>
/// (depthwise 3x3), bottlenecks <c>conv_23</c>/<c>conv_3</c> (64, x4), <c>conv_34</c>/<c>conv_4</c> (128, x6),
/// <c>conv_45</c>/<c>conv_5</c> (128, x2), <c>conv_6_sep</c> (1x1 to 512) giving the 512x7x7 map.
/// Plain head: <c>conv_6_dw</c> (global depthwise 7x7 conv + BN), <c>linear</c> (512->512, no bias), <c>bn</c> (BN1d).
/// Grid head: <c>conv1x1</c> as in <see cref="IResNet"/>. A grid network keeps the plain head too.
/// </summary>
public sealed class MobileFaceNet : FaceBackbone
{
    // declared in execution order: RegisterComponents registers children in field order
    private readonly ConvBlock conv1;
    private readonly ConvBlock conv2_dw;
    private readonly DepthWiseBlock conv_23;
    private readonly Sequential conv_3;
    private readonly DepthWiseBlock conv_34;
    private readonly Sequential conv_4;
    private readonly DepthWiseBlock conv_45;
    private readonly Sequential conv_5;
    private readonly ConvBlock conv_6_sep;
    private readonly ConvBlock conv_6_dw;
    private readonly Linear linear;
    private readonly BatchNorm1d bn;

    /// <param name="grid">Adds the xCos grid layer <c>conv1x1</c>.</param>
    /// <param name="gridChannels">Grid cell channels (32 in xCos).</param>
    /// <param name="embeddingSize">Plain embedding size (512).</param>
    /// <param name="gridSize">Side of the xCos grid (7 in xCos; see <see cref="FaceBackbone.GridSize"/>).</param>
    public MobileFaceNet(bool grid = false, int gridChannels = 32, int embeddingSize = 512, int gridSize = MapSize)
        : base(nameof(MobileFaceNet), grid, gridChannels, gridSize)
    {
        conv1 = new ConvBlock(3, 64, 3, 2, 1);
        conv2_dw = new ConvBlock(64, 64, 3, 1, 1, groups: 64);
        conv_23 = new DepthWiseBlock(64, 64, 128, 2, residual: false);
        conv_3 = Residual(64, 4, 128);
        conv_34 = new DepthWiseBlock(64, 128, 256, 2, residual: false);
        conv_4 = Residual(128, 6, 256);
        conv_45 = new DepthWiseBlock(128, 128, 512, 2, residual: false);
        conv_5 = Residual(128, 2, 256);
        conv_6_sep = new ConvBlock(128, FeatureChannels, 1, 1, 0);
        conv_6_dw = new ConvBlock(FeatureChannels, FeatureChannels, MapSize, 1, 0, groups: FeatureChannels, activation: false);
        linear = Linear(FeatureChannels, embeddingSize, hasBias: false);
        bn = BatchNorm1d(embeddingSize);
        RegisterComponents();
        RegisterGridLayer();
    }

    /// <inheritdoc />
    public override string Architecture => "mobilefacenet";

    // InsightFace_Pytorch's Residual wraps its blocks in a Sequential named `model`.
    private static Sequential Residual(int channels, int blocks, int expanded)
    {
        var list = new List<Module<Tensor, Tensor>>();
        for (var i = 0; i < blocks; i++) list.Add(new DepthWiseBlock(channels, channels, expanded, 1, residual: true));
        return Sequential(("model", Sequential(list)));
    }

    /// <inheritdoc />
    public override Tensor Features(Tensor x) => Tail(Prefix(x, MobileFaceNetStage.Conv4), MobileFaceNetStage.Conv4);

    /// <summary>The trunk up to (not including) <paramref name="stage"/>: the activation a split network hands to its tail.</summary>
    public Tensor Prefix(Tensor x, MobileFaceNetStage stage)
    {
        using var scope = NewDisposeScope();
        var y = conv2_dw.call(conv1.call(x));
        y = conv_34.call(conv_3.call(conv_23.call(y)));
        if (stage >= MobileFaceNetStage.Conv45) y = conv_4.call(y);
        if (stage >= MobileFaceNetStage.Conv5) y = conv_45.call(y);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The trunk from <paramref name="stage"/> on, ending in conv_6_sep's 512x7x7 map; <c>Tail(Prefix(x, s), s)</c> is <see cref="Features"/>.</summary>
    public Tensor Tail(Tensor h, MobileFaceNetStage stage)
    {
        using var scope = NewDisposeScope();
        var y = h;
        if (stage <= MobileFaceNetStage.Conv4) y = conv_4.call(y);
        if (stage <= MobileFaceNetStage.Conv45) y = conv_45.call(y);
        y = conv_5.call(y);
        return conv_6_sep.call(y).MoveToOuterDisposeScope();
    }

    /// <summary>The plain head (global depthwise conv, linear, BN1d) on a 512x7x7 map, before normalisation.</summary>
    public Tensor EmbeddingHead(Tensor features) => PlainHead(features);

    /// <summary>Parameter-name prefixes of the trunk from <paramref name="stage"/> on (what a tail fine-tune trains), plain head included.</summary>
    public static IReadOnlyList<string> TailModules(MobileFaceNetStage stage) => stage switch
    {
        MobileFaceNetStage.Conv4 => ["conv_4.", "conv_45.", "conv_5.", "conv_6_sep.", "conv_6_dw.", "linear.", "bn."],
        MobileFaceNetStage.Conv45 => ["conv_45.", "conv_5.", "conv_6_sep.", "conv_6_dw.", "linear.", "bn."],
        MobileFaceNetStage.Conv5 => ["conv_5.", "conv_6_sep.", "conv_6_dw.", "linear.", "bn."],
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, "conv_4, conv_45 or conv_5"),
    };

    /// <inheritdoc />
    protected override Tensor PlainHead(Tensor features)
    {
        using var scope = NewDisposeScope();
        return bn.call(linear.call(conv_6_dw.call(features).flatten(1))).MoveToOuterDisposeScope();
    }
}

/// <summary>Where a MobileFaceNet is split into a frozen prefix and a tail (the first block of the tail).</summary>
public enum MobileFaceNetStage
{
    /// <summary>The six residual 128-channel blocks <c>conv_4</c> on (14x14 input).</summary>
    Conv4,
    /// <summary>The down-sampling block <c>conv_45</c> on.</summary>
    Conv45,
    /// <summary>The two residual blocks <c>conv_5</c> on (7x7).</summary>
    Conv5,
}
