using System.Diagnostics.CodeAnalysis;
using TorchSharp;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Networks;

/// <summary>Options of <see cref="XcosModel"/>. Defaults are the published xCos configuration (IR-SE-50).</summary>
public sealed record XcosModelOptions
{
    /// <summary>Grid backbone: "ir", "ir_se" or "mobilefacenet" (a depth suffix such as "ir_se50" is accepted). Default "ir_se".</summary>
    public string Arch { get; init; } = "ir_se";

    /// <summary>Preset depth of an IR/IR-SE backbone (18, 34, 50, 100, 152). Default 50.</summary>
    public int Depth { get; init; } = 50;

    /// <summary>Explicit stage table; overrides <see cref="Depth"/>. Default null.</summary>
    public IReadOnlyList<int>? Stages { get; init; }

    /// <summary>Frozen target backbone ("ir", "ir_se", "mobilefacenet"); null (default) for none.</summary>
    public string? TargetArch { get; init; }

    /// <summary>Stage table of the target; null (default) means the same stages as the grid backbone.</summary>
    public IReadOnlyList<int>? TargetStages { get; init; }

    /// <summary>Grid cell channels. Default 32.</summary>
    public int GridChannels { get; init; } = 32;

    /// <summary>Side of the xCos grid, 1..7. Default 7 (the original's 1x1 grid layer); 5 gives a 5x5 grid from a 3x3 grid-layer kernel.</summary>
    public int GridSize { get; init; } = FaceBackbone.MapSize;

    /// <summary>Attention softmax temperature. Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Attention normalisation. Default softmax.</summary>
    public AttentionNormalization AttentionNormalization { get; init; } = AttentionNormalization.Softmax;

    /// <summary>Output-layer dropout of IR/IR-SE backbones. Default 0.6.</summary>
    public double Dropout { get; init; } = 0.6;

    /// <summary>Resolved stage table of the grid backbone (null for mobilefacenet).</summary>
    public IReadOnlyList<int>? ResolvedStages()
    {
        var (kind, nameDepth) = BackboneFactory.Parse(Arch);
        if (kind == "mobilefacenet") return null;
        return Stages ?? BackboneFactory.StagesFor(nameDepth ?? Depth);
    }
}

/// <summary>Scores of the xCos head for a batch of grid pairs.</summary>
/// <param name="Xcos">xCos score per pair, [B].</param>
/// <param name="CosMap">Patch cosine map, [B,7,7].</param>
/// <param name="Attention">Attention weights, [B,7,7], each summing to 1.</param>
public sealed record XcosScores(Tensor Xcos, Tensor CosMap, Tensor Attention);

/// <summary>Everything <see cref="XcosModel.Forward"/> computes for a batch of pairs.</summary>
/// <param name="Xcos">xCos score per pair, [B].</param>
/// <param name="CosMap">Patch cosine map, [B,7,7].</param>
/// <param name="Attention">Attention weights, [B,7,7].</param>
/// <param name="Flat1">L2-normalised flattened grid of image 1, [B,C*49].</param>
/// <param name="Flat2">Same for image 2.</param>
/// <param name="Grid1">Grid of image 1 before normalisation, [B,C,7,7].</param>
/// <param name="Grid2">Same for image 2.</param>
/// <param name="TargetCos">Cosine of the target embeddings, [B]; null without a target backbone.</param>
/// <param name="TargetEmbedding1">L2-normalised target embedding of image 1, [B,512]; null without a target.</param>
/// <param name="TargetEmbedding2">Same for image 2.</param>
public sealed record XcosOutput(
    Tensor Xcos, Tensor CosMap, Tensor Attention,
    Tensor Flat1, Tensor Flat2, Tensor Grid1, Tensor Grid2,
    Tensor? TargetCos, Tensor? TargetEmbedding1, Tensor? TargetEmbedding2);

/// <summary>
/// The xCos network: grid <c>backbone</c>, optional frozen plain <c>backbone_target</c> (ArcFace teacher)
/// and <c>attention</c>. State-dict keys equal those of the published xCos checkpoints.
/// </summary>
[SuppressMessage("Naming", "CA1708", Justification = "forward is the TorchSharp override; Forward is the public call that runs it through the module's hooks.")]
public sealed class XcosModel : nn.Module<Tensor, Tensor, XcosOutput>
{
    private readonly FaceBackbone backbone;
    private readonly FaceBackbone? backbone_target;
    private readonly XcosAttention attention;

    /// <summary>Builds the network from options (null: defaults).</summary>
    public XcosModel(XcosModelOptions? options = null) : base(nameof(XcosModel))
    {
        Options = options ?? new XcosModelOptions();
        var stages = Options.ResolvedStages();
        attention = new XcosAttention(Options.GridChannels, Options.Temperature, Options.AttentionNormalization);
        backbone = BackboneFactory.Create(Options.Arch, stages: stages, grid: true, gridChannels: Options.GridChannels, dropout: Options.Dropout, gridSize: Options.GridSize);
        if (Options.TargetArch is not null)
        {
            var (kind, _) = BackboneFactory.Parse(Options.TargetArch);
            backbone_target = kind == "mobilefacenet"
                ? BackboneFactory.Create(Options.TargetArch)
                : BackboneFactory.Create(Options.TargetArch, stages: Options.TargetStages ?? stages ?? BackboneFactory.StagesFor(50), dropout: Options.Dropout);
        }
        RegisterComponents();
        FreezeTarget();
    }

    /// <summary>The options this network was built with.</summary>
    public XcosModelOptions Options { get; }

    /// <summary>The grid backbone (child <c>backbone</c>).</summary>
    public FaceBackbone Backbone => backbone;

    /// <summary>The frozen plain target backbone (child <c>backbone_target</c>), or null.</summary>
    public FaceBackbone? BackboneTarget => backbone_target;

    /// <summary>The attention branch (child <c>attention</c>).</summary>
    public XcosAttention AttentionNet => attention;

    /// <summary>Switches train/eval mode; the target backbone always stays in eval mode (it is frozen).</summary>
    public override void train(bool train = true)
    {
        base.train(train);
        backbone_target?.eval();
    }

    private void FreezeTarget()
    {
        if (backbone_target is null) return;
        foreach (var p in backbone_target.parameters()) p.requires_grad = false;
        backbone_target.eval();
    }

    /// <summary>Runs both images of each pair; see <see cref="XcosOutput"/>.</summary>
    public XcosOutput Forward(Tensor x1, Tensor x2) => call(x1, x2);

    /// <inheritdoc cref="Forward"/>
    public override XcosOutput forward(Tensor x1, Tensor x2)
    {
        using var scope = NewDisposeScope();
        var (f1, g1) = backbone.Grid(x1);
        var (f2, g2) = backbone.Grid(x2);
        var s = Score(g1, g2);
        Tensor? t1 = null, t2 = null, tcos = null;
        if (backbone_target is not null)
        {
            using (no_grad())
            {
                t1 = backbone_target.Embed(x1);
                t2 = backbone_target.Embed(x2);
                tcos = nn.functional.cosine_similarity(FaceBackbone.L2Normalize(t1), FaceBackbone.L2Normalize(t2), dim: 1, eps: PatchCosine.Epsilon);
            }
        }
        return new XcosOutput(
            s.Xcos.MoveToOuterDisposeScope(), s.CosMap.MoveToOuterDisposeScope(), s.Attention.MoveToOuterDisposeScope(),
            f1.MoveToOuterDisposeScope(), f2.MoveToOuterDisposeScope(), g1.MoveToOuterDisposeScope(), g2.MoveToOuterDisposeScope(),
            tcos?.MoveToOuterDisposeScope(), t1?.MoveToOuterDisposeScope(), t2?.MoveToOuterDisposeScope());
    }

    /// <summary>xCos head on two grids [B,C,7,7].</summary>
    public XcosScores Score(Tensor grid1, Tensor grid2)
    {
        using var scope = NewDisposeScope();
        return Keep(Score(grid1, attention.Embed(grid1), grid2, attention.Embed(grid2)));
    }

    /// <summary>
    /// xCos head with cached per-face attention embeddings (<see cref="XcosAttention.Embed"/> of each grid),
    /// so a face scored against many others runs <c>embedding_net</c> once.
    /// </summary>
    public XcosScores Score(Tensor grid1, Tensor attentionEmbedding1, Tensor grid2, Tensor attentionEmbedding2)
    {
        using var scope = NewDisposeScope();
        var att = attention.Weights(attentionEmbedding1, attentionEmbedding2);
        var cmap = PatchCosine.Map(grid1, grid2);
        var xcos = PatchCosine.Xcos(cmap, att);
        return Keep(new XcosScores(xcos, cmap[.., 0], att[.., 0]));
    }

    private static XcosScores Keep(XcosScores s) =>
        new(s.Xcos.MoveToOuterDisposeScope(), s.CosMap.MoveToOuterDisposeScope(), s.Attention.MoveToOuterDisposeScope());
}
