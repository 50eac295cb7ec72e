using System.Globalization;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using static Xcos.ML.Onnx.XcosOnnxExport;

namespace Xcos.ML.Heads;

/// <summary>
/// How much of the face model's own cosine an anchored learned head's score keeps, per pair, from how much the two
/// branches of the occlusion model agree on each face (<see cref="CosineGateOnnx.WithCosineGate"/>). A face's
/// agreement is the cosine between the fine-tuned branch's embedding (its map through the model's embedding head, every
/// cell weighed alike) and the original model's embedding of the same image: the fine-tuned branch was distilled to the
/// clean embedding, so on a clean face the two agree, and an occluder that moves the original embedding lowers it. The
/// pair's agreement is the lower of its two faces'; at or below <see cref="Low"/> the share is
/// <see cref="OccludedWeight"/>, at or above <see cref="High"/> it is <see cref="CleanWeight"/>, linear between.
/// </summary>
/// <param name="OccludedWeight">The cosine's share when a face is clearly occluded, in [0, 1].</param>
/// <param name="CleanWeight">The cosine's share when both faces are clean, in [0, 1] (1: the original cosine decides).</param>
/// <param name="Low">Agreement at or below which <paramref name="OccludedWeight"/> holds.</param>
/// <param name="High">Agreement at or above which <paramref name="CleanWeight"/> holds; above <paramref name="Low"/>.</param>
public sealed record CosineGate(double OccludedWeight, double CleanWeight, double Low, double High)
{
    /// <summary>The share at a pair agreement <paramref name="agreement"/>, as the exported graph computes it.</summary>
    public double WeightAt(double agreement)
    {
        double t = Math.Clamp((agreement - Low) / (High - Low), 0, 1);
        return OccludedWeight + (CleanWeight - OccludedWeight) * t;
    }

    /// <summary>The gate in the form the head's metadata keeps (<c>occluded=0.15;clean=1;low=0.76;high=0.87</c>).</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"occluded={OccludedWeight:R};clean={CleanWeight:R};low={Low:R};high={High:R}");

    /// <summary>Reads <see cref="ToString"/>'s form.</summary>
    /// <exception cref="FormatException">Not that form, or values <see cref="Validate"/> refuses.</exception>
    public static CosineGate Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0].Trim(), p => p.Length == 2 ? p[1] : "", StringComparer.Ordinal);
        double Get(string key) => parts.TryGetValue(key, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            ? d : throw new FormatException($"cosine gate '{text}': expected occluded=W;clean=W;low=A;high=A, '{key}' is missing or not a number");
        var gate = new CosineGate(Get("occluded"), Get("clean"), Get("low"), Get("high"));
        try { gate.Validate(); }
        catch (ArgumentException e) { throw new FormatException($"cosine gate '{text}': {e.Message}", e); }
        return gate;
    }

    /// <summary>Checks the shares are in [0, 1] and Low &lt; High, all finite.</summary>
    /// <exception cref="ArgumentException">Which value is wrong and why.</exception>
    public void Validate()
    {
        foreach (var (name, w) in new[] { (nameof(OccludedWeight), OccludedWeight), (nameof(CleanWeight), CleanWeight) })
            if (!(w is >= 0 and <= 1)) throw new ArgumentException($"{name} {w}: a share of the cosine must be in [0, 1]");
        if (!double.IsFinite(Low) || !double.IsFinite(High) || !(Low < High))
            throw new ArgumentException($"Low {Low} and High {High}: two finite agreements with Low < High");
    }
}

/// <summary>The cosine gate of <see cref="CosineGate"/> as a rewrite of a learned head's ONNX graph.</summary>
public static class CosineGateOnnx
{
    /// <summary>
    /// An anchored map head (<see cref="XcosOnnxExport.BuildAnchoredMapHeadModel"/>) rewritten so that the cosine's share follows
    /// <paramref name="gate"/> pair by pair: two more inputs <see cref="XcosOnnxExport.Embedding1Input"/> and <see cref="XcosOnnxExport.Embedding2Input"/>
    /// [N, D] (the original model's embeddings), <c>w</c> from the two faces' agreement (<see cref="CosineGate"/>),
    /// <c>score = (1 - w) xCos + w cosine</c> and <c>cos_map = (1 - w) map + w cosine</c> on every cell (so
    /// <c>score = sum(cos_map * attention)</c> still holds), and <see cref="XcosOnnxExport.CosineShareOutput"/> = w. Why: the
    /// fine-tuned branch helps occluded faces and costs a little on clean ones, most in 1:N; the agreement tells the
    /// two apart per face, with no occluder detector.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an anchored map head (no <c>anchor.*</c> folded weights), or one that already blends.</exception>
    /// <exception cref="ArgumentException"><paramref name="gate"/> is invalid.</exception>
    public static ModelProto WithCosineGate(ModelProto head, CosineGate gate)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(gate);
        gate.Validate();
        var m = head.Clone();
        var g = m.Graph;
        string[] anchor = ["anchor.kernel.folded", "anchor.beta.folded", "anchor.linear.weight.folded", "anchor.bias.folded"];
        foreach (var name in anchor)
            if (g.Initializer.All(t => t.Name != name)) throw new InvalidDataException($"the cosine gate needs an anchored head (initializer '{name}' missing)");
        long dims = g.Initializer.First(t => t.Name == "anchor.linear.weight.folded").Dims[0];
        var batch = RenameHeadOutputs(g);
        g.Input.Add(FloatInput(Embedding1Input, batch, dims));
        g.Input.Add(FloatInput(Embedding2Input, batch, dims));
        g.Initializer.Add(FloatScalar("gate.one", 1f));
        g.Initializer.Add(FloatScalar("gate.zero", 0f));
        g.Initializer.Add(FloatScalar("gate.eps", NormalizeEpsilon));
        g.Initializer.Add(FloatScalar("gate.low", (float)gate.Low));
        g.Initializer.Add(FloatScalar("gate.span", (float)(gate.High - gate.Low)));
        g.Initializer.Add(FloatScalar("gate.occluded", (float)gate.OccludedWeight));
        g.Initializer.Add(FloatScalar("gate.range", (float)(gate.CleanWeight - gate.OccludedWeight)));
        g.Initializer.Add(ColumnShape("gate.column_shape"));
        var axes = new TensorProto { Name = "gate.cell_axes", DataType = (int)TensorProto.Types.DataType.Int64 };
        axes.Dims.Add(2);
        axes.Int64Data.Add([2, 3]);
        g.Initializer.Add(axes);
        var last = new TensorProto { Name = "gate.last_axis", DataType = (int)TensorProto.Types.DataType.Int64 };
        last.Dims.Add(1);
        last.Int64Data.Add(1);
        g.Initializer.Add(last);
        string Node(string op, string output, params string[] inputs)
        {
            g.Node.Add(ProtoNode(op, "gate." + output, "gate." + output, inputs));
            return "gate." + output;
        }
        string L2(string x, string output)
        {
            var n = ProtoNode("ReduceL2", "gate." + output, "gate." + output, x);
            n.Attribute.Add(OnnxAttr.Ints("axes", 1));
            n.Attribute.Add(OnnxAttr.Int("keepdims", 0));
            g.Node.Add(n);
            return "gate." + output;
        }
        string Cosine(string x, string y, string tag)
        {
            string dot = Node("ReduceSum", $"{tag}_dot", Node("Mul", $"{tag}_product", x, y), "gate.last_axis");
            g.Node[^1].Attribute.Add(OnnxAttr.Int("keepdims", 0));
            string norms = Node("Mul", $"{tag}_norms", L2(x, $"{tag}_norm_x"), L2(y, $"{tag}_norm_y"));
            return Node("Div", $"{tag}_cosine", dot, Node("Max", $"{tag}_norms_eps", norms, "gate.eps"));
        }
        // the fine-tuned branch's embedding of each face, every cell weighed alike, and its agreement with the original's
        string Agreement(string map, string embedding, string tag)
        {
            string cells = Node("Mul", $"cells{tag}", map, "anchor.kernel.folded");
            string pooled = Node("ReduceSum", $"pooled{tag}", cells, "gate.cell_axes");
            g.Node[^1].Attribute.Add(OnnxAttr.Int("keepdims", 0));
            var gemm = ProtoNode("Gemm", $"gate.embedding{tag}", $"gate.embedding{tag}", Node("Add", $"pooled_beta{tag}", pooled, "anchor.beta.folded"), "anchor.linear.weight.folded", "anchor.bias.folded");
            gemm.Attribute.Add(OnnxAttr.Int("transB", 1));
            g.Node.Add(gemm);
            return Cosine($"gate.embedding{tag}", embedding, $"agreement{tag}");
        }
        string agreement = Node("Min", "agreement", Agreement(Map1Input, Embedding1Input, "1"), Agreement(Map2Input, Embedding2Input, "2"));
        string t = Node("Clip", "t", Node("Div", "t_raw", Node("Sub", "above_low", agreement, "gate.low"), "gate.span"), "gate.zero", "gate.one");
        string w = Node("Add", "w", "gate.occluded", Node("Mul", "w_rise", t, "gate.range"));
        g.Node.Add(ProtoNode("Identity", "gate.share", CosineShareOutput, w));
        string cosine = Cosine(Embedding1Input, Embedding2Input, "pair");
        string headShare = Node("Sub", "head_share", "gate.one", w);
        g.Node.Add(ProtoNode("Add", "gate.score", ScoreOutput, Node("Mul", "head_score", HeadScoreValue, headShare), Node("Mul", "cosine_score", cosine, w)));
        string wColumn = Node("Reshape", "w_column", w, "gate.column_shape");
        string headColumn = Node("Reshape", "head_share_column", headShare, "gate.column_shape");
        string cosColumn = Node("Reshape", "cosine_column", cosine, "gate.column_shape");
        g.Node.Add(ProtoNode("Add", "gate.map", CosMapOutput, Node("Mul", "head_map", HeadMapValue, headColumn), Node("Mul", "cosine_map", cosColumn, wColumn)));
        var share = FloatInput(CosineShareOutput, batch);
        g.Output.Add(share);
        return m;
    }
}
