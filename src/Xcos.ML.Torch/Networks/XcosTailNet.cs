using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Networks;

/// <summary>How the two-branch model's learned xCos turns its attention and maps into a score.</summary>
public enum XcosHeadForm
{
    /// <summary>
    /// The paper's: cosines of the 32-channel grid cells, weighted by the attention. On 12 people it stays far below
    /// the model's cosine on clean faces (settings AUC 0.975 after 3 epochs against a cosine at 98 % accuracy).
    /// </summary>
    PatchCosine,

    /// <summary>
    /// Anchored on the fine-tuned embedding: the attention re-weights the 49 cells of each map before the model's own
    /// embedding head (global depthwise conv, linear, BN), xCos is the cosine of the two re-weighted embeddings, and
    /// the map is each cell's exact share of it, so xCos = sum(cos_map * attention) still holds. The attention starts
    /// near uniform, where xCos is the fine-tuned branch's cosine; training only has to learn where to look.
    /// </summary>
    Anchored,
}

/// <summary>
/// The trained branch of the two-branch occlusion model: a MobileFaceNet (<c>backbone</c>) whose tail from a
/// <see cref="MobileFaceNetStage"/> on is fine-tuned, and the learned xCos head (<c>head</c>: grid layer and attention)
/// on its 7x7 map. The frozen model supplies the prefix activation and, through its own unchanged tail, the
/// original embedding; only the map of this branch feeds xCos.
/// </summary>
public sealed class XcosTailNet : Module<Tensor, XcosScores>
{
    /// <summary>Eval-mode batch-norm epsilon of the embedding head (TorchSharp's default).</summary>
    public const double BatchNormEpsilon = 1e-5;

    private readonly MobileFaceNet backbone;
    private readonly XcosGridHead head;

    /// <summary>A fresh branch (load weights into <see cref="Backbone"/>); an anchored head's attention starts at <paramref name="attentionStartScale"/> (<see cref="XcosAttention.StartNearUniform"/>).</summary>
    public XcosTailNet(MobileFaceNetStage from, int gridChannels = 32, double temperature = 1.0, XcosHeadForm form = XcosHeadForm.Anchored, double attentionStartScale = 0.01) : base(nameof(XcosTailNet))
    {
        From = from;
        Form = form;
        backbone = new MobileFaceNet();
        head = new XcosGridHead(FaceBackbone.FeatureChannels, gridChannels, temperature);
        RegisterComponents();
        if (form == XcosHeadForm.Anchored) head.Attention.StartNearUniform(attentionStartScale);
    }

    /// <summary>First block of the fine-tuned tail.</summary>
    public MobileFaceNetStage From { get; }

    /// <summary>How xCos is formed from the attention and the maps.</summary>
    public XcosHeadForm Form { get; }

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

    /// <summary>
    /// The embedding head's weights under the names <see cref="Xcos.ML.Onnx.XcosOnnxExport.BuildAnchoredMapHeadModel"/>
    /// reads (<c>anchor.conv_6_dw.*</c>, <c>anchor.linear.weight</c>, <c>anchor.bn.*</c>); live tensors.
    /// </summary>
    public Dictionary<string, Tensor> AnchorStateDict()
    {
        string[] keep = ["conv_6_dw.", "linear.", "bn."];
        return backbone.state_dict().Where(kv => keep.Any(k => kv.Key.StartsWith(k, StringComparison.Ordinal)) && !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .ToDictionary(kv => "anchor." + kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>learned xCos of two batches of maps [B,512,7,7] (<see cref="Form"/> decides how).</summary>
    public XcosScores Score(Tensor map1, Tensor map2)
    {
        using var scope = NewDisposeScope();
        if (Form == XcosHeadForm.PatchCosine)
        {
            var p = head.ScoreGrids(head.Grid(map1), head.Grid(map2));
            return new XcosScores(p.Xcos.MoveToOuterDisposeScope(), p.CosMap.MoveToOuterDisposeScope(), p.Attention.MoveToOuterDisposeScope());
        }
        var att = head.Attention.call(head.Grid(map1), head.Grid(map2)); // [B,1,7,7], sums to 1
        var (k, beta, w, bias) = EmbeddingAffine();
        long cells = map1.shape[2] * map1.shape[3];
        // p_c = K'_c * m_c: each cell's input to the global depthwise conv; the attention re-weights the cells
        var p1 = map1 * k;
        var p2 = map2 * k;
        var weight = att * cells;
        var e1 = functional.linear((p1 * weight).sum([2, 3]) + beta, w) + bias;
        var e2 = functional.linear((p2 * weight).sum([2, 3]) + beta, w) + bias;
        var norms = (e1.norm(1) * e2.norm(1)).clamp_min(1e-12);
        var total = matmul(w, beta) + bias; // the embedding's constant part
        // <e1, e2> = sum_c att_c * cells/2 * (<p1_c, W'^T e2> + <p2_c, W'^T e1>) + <total, e1 + e2> / 2
        var c1 = (p1 * e2.matmul(w).unsqueeze(-1).unsqueeze(-1)).sum(1);
        var c2 = (p2 * e1.matmul(w).unsqueeze(-1).unsqueeze(-1)).sum(1);
        var constant = (total * (e1 + e2)).sum(1) / 2;
        var map = ((c1 + c2) * (cells / 2.0) + constant.unsqueeze(-1).unsqueeze(-1)) / norms.unsqueeze(-1).unsqueeze(-1);
        var xcos = (e1 * e2).sum(1) / norms;
        return new XcosScores(xcos.MoveToOuterDisposeScope(), map.MoveToOuterDisposeScope(), att[.., 0].MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Anchored xCos of every face of <paramref name="mapsA"/> [A,512,7,7] against every face of <paramref name="mapsB"/>
    /// [B,512,7,7]: [A,B], equal to <see cref="Score"/> on each pair (without the maps). Training uses it to fit the
    /// whole batch's geometry, impostor pairs included, for the cost of one grid per face.
    /// </summary>
    /// <exception cref="InvalidOperationException">The head is not <see cref="XcosHeadForm.Anchored"/>.</exception>
    public Tensor ScoreMatrix(Tensor mapsA, Tensor mapsB)
    {
        if (Form != XcosHeadForm.Anchored) throw new InvalidOperationException("ScoreMatrix needs the anchored head");
        using var scope = NewDisposeScope();
        long a = mapsA.shape[0], b = mapsB.shape[0], ch = mapsA.shape[1], cells = mapsA.shape[2] * mapsA.shape[3];
        var codeA = head.Attention.Embed(head.Grid(mapsA));
        var codeB = head.Attention.Embed(head.Grid(mapsB));
        var ia = arange(a, device: mapsA.device).repeat_interleave(b);
        var ib = arange(b, device: mapsA.device).repeat(a);
        var att = head.Attention.Weights(codeA.index_select(0, ia), codeB.index_select(0, ib)).reshape(a, b, cells) * cells;
        var (k, beta, w, bias) = EmbeddingAffine();
        var pA = (mapsA * k).reshape(a, ch, cells);
        var pB = (mapsB * k).reshape(b, ch, cells);
        var zA = att.bmm(pA.transpose(1, 2));                                 // [a,b,ch]: face i pooled with the weights of (i, j)
        var zB = att.transpose(0, 1).bmm(pB.transpose(1, 2)).transpose(0, 1); // [a,b,ch]: face j pooled with the weights of (i, j)
        var eA = functional.linear(zA + beta, w) + bias;
        var eB = functional.linear(zB + beta, w) + bias;
        return ((eA * eB).sum(2) / (eA.norm(2) * eB.norm(2)).clamp_min(1e-12)).MoveToOuterDisposeScope();
    }

    // The eval-mode embedding head as e = W' (sum_c K'_c * m_c + beta') + b'': conv_6_dw's BN folded into its kernel,
    // BN1d into the linear layer. Differentiable in the trained weights (the branch runs its batch norms in eval mode).
    private (Tensor Kernel, Tensor Beta, Tensor Weight, Tensor Bias) EmbeddingAffine()
    {
        var s = backbone.state_dict();
        var (s1, t1) = Affine(s, "conv_6_dw.bn");
        var k = s["conv_6_dw.conv.weight"].squeeze(1) * s1.unsqueeze(-1).unsqueeze(-1);
        var (s2, t2) = Affine(s, "bn");
        var w = s["linear.weight"] * s2.unsqueeze(-1);
        return (k, t1, w, t2);
    }

    private static (Tensor Scale, Tensor Shift) Affine(Dictionary<string, Tensor> s, string bn)
    {
        var scale = s[$"{bn}.weight"] / (s[$"{bn}.running_var"] + BatchNormEpsilon).sqrt();
        return (scale, s[$"{bn}.bias"] - s[$"{bn}.running_mean"] * scale);
    }

    /// <summary>xCos of pairs given as one batch: the first half against the second half of the prefix activations.</summary>
    public override XcosScores forward(Tensor prefix)
    {
        using var scope = NewDisposeScope();
        long b = prefix.shape[0] / 2;
        var m = Map(prefix);
        var s = Score(m.narrow(0, 0, b), m.narrow(0, b, b));
        return new XcosScores(s.Xcos.MoveToOuterDisposeScope(), s.CosMap.MoveToOuterDisposeScope(), s.Attention.MoveToOuterDisposeScope());
    }
}
