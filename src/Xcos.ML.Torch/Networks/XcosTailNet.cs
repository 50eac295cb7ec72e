using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>
/// The trained branch of the two-branch occlusion model: a MobileFaceNet (<c>backbone</c>) whose tail from a
/// <see cref="MobileFaceNetStage"/> on is fine-tuned, and the learned xCos head (<c>head</c>: grid layer and attention)
/// on its 7x7 map. The frozen model supplies the prefix activation and, through its own unchanged tail, the
/// original embedding; only the map of this branch feeds xCos.
/// </summary>
public sealed class XcosTailNet : Module<Tensor, XcosScores>
{
    private readonly MobileFaceNet backbone;
    private readonly XcosGridHead head;

    /// <summary>A fresh branch (load weights into <see cref="Backbone"/>).</summary>
    public XcosTailNet(MobileFaceNetStage from, int gridChannels = 32, double temperature = 1.0) : base(nameof(XcosTailNet))
    {
        From = from;
        backbone = new MobileFaceNet();
        head = new XcosGridHead(FaceBackbone.FeatureChannels, gridChannels, temperature);
        RegisterComponents();
    }

    /// <summary>First block of the fine-tuned tail.</summary>
    public MobileFaceNetStage From { get; }

    /// <summary>The MobileFaceNet whose tail is trained (its prefix is never run: the frozen model's is).</summary>
    public MobileFaceNet Backbone => backbone;

    /// <summary>Grid layer and attention.</summary>
    public XcosGridHead Head => head;

    /// <summary>The parameters the fine-tune trains in the backbone (its tail and plain head).</summary>
    public IEnumerable<TorchSharp.Modules.Parameter> TailParameters()
    {
        var prefixes = MobileFaceNet.TailModules(From);
        return backbone.named_parameters().Where(p => prefixes.Any(x => p.name.StartsWith(x, StringComparison.Ordinal))).Select(p => p.parameter);
    }

    /// <summary>The tail's 512x7x7 map of a prefix activation.</summary>
    public Tensor Map(Tensor prefix) => backbone.Tail(prefix, From);

    /// <summary>xCos of pairs given as one batch: the first half against the second half of the prefix activations.</summary>
    public override XcosScores forward(Tensor prefix)
    {
        using var scope = NewDisposeScope();
        long b = prefix.shape[0] / 2;
        var g = head.Grid(Map(prefix));
        var s = head.ScoreGrids(g.narrow(0, 0, b), g.narrow(0, b, b));
        return new XcosScores(s.Xcos.MoveToOuterDisposeScope(), s.CosMap.MoveToOuterDisposeScope(), s.Attention.MoveToOuterDisposeScope());
    }
}
