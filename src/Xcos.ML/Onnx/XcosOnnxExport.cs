using System.Globalization;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Onnx;

/// <summary>A named weight array: float32 values in C order and their shape.</summary>
/// <param name="Data">Values, row-major.</param>
/// <param name="Shape">Dims; their product is <c>Data.Length</c>.</param>
public sealed record WeightTensor(float[] Data, long[] Shape)
{
    /// <summary>Number of elements the shape describes.</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>Inputs of the xCos pair-head model.</summary>
public enum XcosPairHeadInputs
{
    /// <summary><c>grid1</c>, <c>grid2</c> [N,32,7,7]; the face codes are computed inside the model.</summary>
    Grids,
    /// <summary><c>grid1</c>, <c>grid2</c> [N,32,7,7] and <c>code1</c>, <c>code2</c> [N,16,7,7] from the embedding model's <c>face_code</c>.</summary>
    GridsAndFaceCodes,
}

/// <summary>How <see cref="XcosOnnxExport"/> builds the graph: BatchNorm folding, attention temperature, optional outputs.</summary>
public sealed class XcosOnnxExportOptions
{
    /// <summary>
    /// Fold every BatchNorm that follows a convolution or linear layer (and the BN2d before the target
    /// backbone's linear layer) into that layer's weights, computed in float64. Default true. The BN at the
    /// start of each residual unit stays a BatchNormalization node: it precedes a zero-padded convolution,
    /// so folding it would change the border outputs.
    /// </summary>
    public bool FoldBatchNorm { get; set; } = true;

    /// <summary>BatchNorm epsilon of the trained network. Default 1e-5 (PyTorch's default).</summary>
    public float BatchNormEpsilon { get; set; } = 1e-5f;

    /// <summary>Softmax temperature of the attention map (logits are divided by it). Default 1.</summary>
    public float Temperature { get; set; } = 1f;

    /// <summary>Add the <c>target_embedding</c> output when <c>backbone_target.*</c> weights are present. Default true.</summary>
    public bool IncludeTargetEmbedding { get; set; } = true;

    /// <summary>Add the <c>face_code</c> output when <c>attention.embedding_net.*</c> weights are present. Default true.</summary>
    public bool IncludeFaceCode { get; set; } = true;

    /// <summary>Inputs of the pair-head model. Default <see cref="XcosPairHeadInputs.Grids"/>.</summary>
    public XcosPairHeadInputs PairHeadInputs { get; set; } = XcosPairHeadInputs.Grids;

    /// <summary>Name of the symbolic batch dimension. Default "N".</summary>
    public string BatchDimName { get; set; } = "N";

    /// <summary>
    /// Share w of the face model's own cosine in a map head's score, in [0, 1). Default 0: the head's xCos alone.
    /// Above 0 the map head takes a third input <c>cosine</c> [N] (the pair's embedding cosine) and gives
    /// <c>score = (1 - w) xCos + w cosine</c>, with <c>cos_map = (1 - w) map + w cosine</c> on every cell, so
    /// <c>score = sum(cos_map * attention)</c> still holds exactly (the attention sums to 1). Why: a head fitted on a
    /// few people ranks clean strangers below the model's cosine; the cosine's share keeps its clean geometry while the
    /// head adds what it sees under occlusion (the fusion of DeepFace-EMD, CVPR 2022, of a cosine and a patch score).
    /// </summary>
    public double CosineWeight { get; set; }
}

/// <summary>
/// Builds ONNX models of the xCos network (Lin et al., arXiv 2003.05383) from a name-to-array weight
/// dictionary whose keys follow the state-dict layout of the published xCos checkpoints
/// (<c>backbone.*</c>, <c>attention.*</c>, <c>backbone_target.*</c>; a leading <c>module.</c> is ignored).
/// The backbone kind is read from the keys (<see cref="DetectArchitecture"/>): IR/IR-SE (<c>body.N.res_layer.*</c>; stage
/// table, SE use and channel counts from the keys and shapes) or MobileFaceNet in the InsightFace_Pytorch layout
/// (<c>conv1</c>, <c>conv2_dw</c>, <c>conv_23</c>, <c>conv_3.model.N</c>, ..., <c>conv_6_sep</c>; plain head <c>conv_6_dw</c>,
/// <c>linear</c>, <c>bn</c>).
/// </summary>
/// <remarks>
/// Two models: the <b>embedding</b> model maps <c>image</c> [N,3,112,112] (RGB, (x/255-0.5)/0.5) to
/// <c>grid</c> [N,32,7,7], <c>embedding</c> [N,1568] (flattened grid, L2-normalised), <c>face_code</c> [N,16,7,7]
/// and <c>target_embedding</c> [N,512]; the <b>pair head</b> maps two grids to <c>score</c> [N] (xCos),
/// <c>cos_map</c> [N,49], <c>attention</c> [N,49] and <c>cosine</c> [N], so a gallery's grids are computed once.
/// A grid layer with a k x k kernel (unpadded on the 7x7 map) gives a G x G grid, G = 8 - k, and every 7 above is then G.
/// </remarks>
public static partial class XcosOnnxExport
{
    /// <summary>Value names of the embedding model.</summary>
    public const string ImageInput = "image", GridOutput = "grid", EmbeddingOutput = "embedding",
        FaceCodeOutput = "face_code", TargetEmbeddingOutput = "target_embedding";

    /// <summary>Value names of the pair-head model.</summary>
    public const string Grid1Input = "grid1", Grid2Input = "grid2", Code1Input = "code1", Code2Input = "code2",
        ScoreOutput = "score", CosMapOutput = "cos_map", AttentionOutput = "attention", CosineOutput = "cosine";

    /// <summary>Patch-cosine epsilons: each cell is normalised with max(norm, 1e-12), the cosine divides by max(|a||b|, 1e-6).</summary>
    public const float NormalizeEpsilon = 1e-12f, CosineEpsilon = 1e-6f;

    /// <summary>Architecture names returned by <see cref="DetectArchitecture"/>.</summary>
    public const string ArchIr = "ir", ArchIrSe = "ir_se", ArchMobileFaceNet = "mobilefacenet";

    /// <summary>
    /// The backbone under <paramref name="prefix"/>: <see cref="ArchMobileFaceNet"/> when <c>{prefix}.conv_6_sep.*</c>
    /// weights are present, <see cref="ArchIrSe"/> when unit 0 has an SE block, <see cref="ArchIr"/> when it has
    /// <c>{prefix}.body.N</c> units, null when there is no backbone under that prefix.
    /// </summary>
    public static string? DetectArchitecture(IReadOnlyDictionary<string, WeightTensor> weights, string prefix = "backbone") =>
        Exporter.Arch(new Weights(weights), prefix);

    /// <summary>
    /// Number of residual units per stage of the IR/IR-SE backbone under <paramref name="prefix"/> (e.g. [3,4,14,3] for
    /// IR-50): a new stage starts at unit 0 and wherever the unit's depth changes.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No <c>{prefix}.body.N</c> units in the weights.</exception>
    /// <exception cref="InvalidDataException">The backbone is a MobileFaceNet, which has no stage table.</exception>
    public static int[] InferStages(IReadOnlyDictionary<string, WeightTensor> weights, string prefix = "backbone")
    {
        var w = new Weights(weights);
        if (Exporter.Arch(w, prefix) == ArchMobileFaceNet)
            throw new InvalidDataException($"'{prefix}' is a MobileFaceNet ({prefix}.conv_6_sep.*): it has no IR stage table");
        return Exporter.StageCounts(w, prefix).ToArray();
    }

    /// <summary>Builds the embedding model (image to grid, embedding, face code, target embedding).</summary>
    /// <exception cref="KeyNotFoundException">A required weight is missing (the message names it).</exception>
    /// <exception cref="InvalidDataException">A weight has the wrong shape (the message names it and the expected shape).</exception>
    public static ModelProto BuildEmbeddingModel(IReadOnlyDictionary<string, WeightTensor> weights, XcosOnnxExportOptions? options = null)
    {
        options ??= new XcosOnnxExportOptions();
        var e = new Exporter(new Weights(weights), options);
        var b = e.B;
        string image = b.AddInput(ImageInput, [-1, 3, 112, 112]);
        var (features, _) = e.Backbone(image, "backbone");
        long side = e.GridSide();
        var (grid, gridChannels) = e.GridLayer(features, 512);
        b.AddOutput(grid, GridOutput, [-1, gridChannels, side, side]);
        string flat = b.Flatten(GridOutput, 1, "grid_flat");
        b.AddOutput(b.L2Normalize(flat, 1, 0f, "embedding_l2"), EmbeddingOutput, [-1, gridChannels * side * side]);
        if (options.IncludeFaceCode && e.W.Has("attention.embedding_net.0.weight"))
        {
            var (code, codeChannels) = e.FaceCode(GridOutput, gridChannels);
            b.AddOutput(code, FaceCodeOutput, [-1, codeChannels, side, side]);
        }
        if (options.IncludeTargetEmbedding && Exporter.Arch(e.W, "backbone_target") is not null)
        {
            var (target, dims) = e.TargetEmbedding(image);
            b.AddOutput(target, TargetEmbeddingOutput, [-1, dims]);
        }
        return e.Finish("embedding", "backbone");
    }

    /// <summary>Builds the pair-head model (two grids to xCos score, cosine map, attention map, plain cosine).</summary>
    /// <exception cref="KeyNotFoundException">A required <c>attention.*</c> weight is missing.</exception>
    public static ModelProto BuildPairHeadModel(IReadOnlyDictionary<string, WeightTensor> weights, XcosOnnxExportOptions? options = null)
    {
        options ??= new XcosOnnxExportOptions();
        var e = new Exporter(new Weights(weights), options);
        var b = e.B;
        long c = e.W.Get("attention.embedding_net.0.weight").Shape[1];
        long side = e.W.Has("backbone.conv1x1.0.weight") ? e.GridSide() : 7;
        string g1 = b.AddInput(Grid1Input, [-1, c, side, side]);
        string g2 = b.AddInput(Grid2Input, [-1, c, side, side]);
        string code1, code2;
        if (options.PairHeadInputs == XcosPairHeadInputs.GridsAndFaceCodes)
        {
            long k = e.W.Get("attention.embedding_net.0.weight").Shape[0];
            code1 = b.AddInput(Code1Input, [-1, k, side, side]);
            code2 = b.AddInput(Code2Input, [-1, k, side, side]);
        }
        else
        {
            code1 = e.FaceCode(g1, c).Value;
            code2 = e.FaceCode(g2, c).Value;
        }

        AddXcosOutputs(e, g1, g2, code1, code2, side);

        string f1 = b.L2Normalize(b.Flatten(g1, 1), 1, 0f, "flat1_l2");
        string f2 = b.L2Normalize(b.Flatten(g2, 1), 1, 0f, "flat2_l2");
        b.AddOutput(b.ReduceSum(b.Mul(f1, f2), [1], keepDims: false, "flat_cos"), CosineOutput, [-1]);
        return e.Finish("pair_head", null);
    }

    /// <summary>Value names of the map-head model (<see cref="BuildMapHeadModel"/>).</summary>
    public const string Map1Input = "map1", Map2Input = "map2", CosineInput = "cosine";

    /// <summary>
    /// Builds the map-head model: the trained grid layer (<c>backbone.conv1x1.*</c>: conv 1x1, BN, PReLU) and the
    /// attention branch (<c>attention.*</c>) on two feature maps of a frozen face model, <c>map1</c>, <c>map2</c>
    /// [N,C,7,7] (C from the grid layer's weight), to <c>score</c> [N] (xCos), <c>cos_map</c> [N,49] and
    /// <c>attention</c> [N,49]. This is head-only xCos for any face model whose last 7x7 map is exposed.
    /// </summary>
    /// <exception cref="KeyNotFoundException">A required <c>backbone.conv1x1.*</c> or <c>attention.*</c> weight is missing.</exception>
    public static ModelProto BuildMapHeadModel(IReadOnlyDictionary<string, WeightTensor> weights, XcosOnnxExportOptions? options = null)
    {
        var (e, _, _, g1, g2, codes) = MapHeadStart(weights, options);
        AddXcosOutputs(e, g1, g2, codes.Code1, codes.Code2, e.GridSide());
        return Blended(e.Finish("map_head", null), options);
    }

    // Both map heads: the two map inputs [N,C,7,7], their grids and face codes.
    private static (Exporter E, string Map1, string Map2, string Grid1, string Grid2, (string Code1, string Code2) Codes) MapHeadStart(
        IReadOnlyDictionary<string, WeightTensor> weights, XcosOnnxExportOptions? options)
    {
        var e = new Exporter(new Weights(weights), options ?? new XcosOnnxExportOptions());
        long c = e.W.Get("backbone.conv1x1.0.weight").Shape[1];
        string m1 = e.B.AddInput(Map1Input, [-1, c, 7, 7]);
        string m2 = e.B.AddInput(Map2Input, [-1, c, 7, 7]);
        var (g1, gc) = e.GridLayer(m1, c);
        var (g2, _) = e.GridLayer(m2, c);
        return (e, m1, m2, g1, g2, (e.FaceCode(g1, gc).Value, e.FaceCode(g2, gc).Value));
    }

    /// <summary>
    /// Builds the anchored map-head model (the two-branch occlusion model's head, <c>XcosHeadForm.Anchored</c> in
    /// Xcos.ML.Torch): the grid layer and attention as in <see cref="BuildMapHeadModel"/>, and the face model's own
    /// embedding head (<c>anchor.conv_6_dw.*</c>: global depthwise 7x7 conv + BN; <c>anchor.linear.weight</c>;
    /// <c>anchor.bn.*</c>: BN1d). The attention re-weights the 49 cells of each map (x 49, so uniform attention is the
    /// plain embedding), <c>score</c> is the cosine of the two re-weighted embeddings, and <c>cos_map</c> is each
    /// cell's exact share: <c>cells/2 (p1_c.W'e2 + p2_c.W'e1) + (b.(e1 + e2))/2</c> over <c>|e1||e2|</c>, with
    /// <c>p_c</c> the cell's input to the depthwise conv and <c>b</c> the embedding's constant part, so
    /// <c>score = sum(cos_map * attention)</c>. Same inputs and outputs as the map head.
    /// </summary>
    /// <exception cref="KeyNotFoundException">A required weight is missing.</exception>
    public static ModelProto BuildAnchoredMapHeadModel(IReadOnlyDictionary<string, WeightTensor> weights, XcosOnnxExportOptions? options = null)
    {
        var (e, m1, m2, _, _, codes) = MapHeadStart(weights, options);
        var b = e.B;
        long c = e.W.Get("backbone.conv1x1.0.weight").Shape[1];
        if (e.GridSide() != 7) throw new InvalidDataException("the anchored head needs a 1x1 grid layer (a 7x7 grid over the 7x7 map)");
        string att = b.AddOutput(e.Attention(codes.Code1, codes.Code2), AttentionOutput, [-1, 49]);
        var (kernel, beta, weight, bias, total) = e.AnchorAffine(c);
        string k = b.Initializer("anchor.kernel.folded", kernel, [1, c, 7, 7]);
        string w = b.Initializer("anchor.linear.weight.folded", weight, [weight.Length / c, c]);
        string cellWeight = b.Reshape(b.Mul(att, b.Scalar(49f, "cells")), [-1, 1, 7, 7], "cell_weight");
        string betaName = b.Initializer("anchor.beta.folded", beta, [c]);
        string biasName = b.Initializer("anchor.bias.folded", bias, [bias.Length]);
        (string P, string E) Embed(string map, string tag)
        {
            string p = b.Mul(map, k, $"cells{tag}");
            string z = b.Add(b.ReduceSum(b.Mul(p, cellWeight), [2, 3], keepDims: false), betaName, $"pooled{tag}");
            return (p, b.Gemm(z, w, biasName, true, $"embedding{tag}"));
        }
        var (p1, e1) = Embed(m1, "1");
        var (p2, e2) = Embed(m2, "2");
        string norms = b.Max(b.Mul(b.ReduceL2(e1, [1], true), b.ReduceL2(e2, [1], true)), b.Scalar(NormalizeEpsilon, "norm_eps"), "norm_product");
        string Share(string p, string other, string tag) =>
            b.Flatten(b.ReduceSum(b.Mul(p, b.Reshape(b.MatMul(other, w), [-1, c, 1, 1])), [1], keepDims: false), 1, $"share{tag}");
        string shares = b.Mul(b.Add(Share(p1, e2, "1"), Share(p2, e1, "2")), b.Scalar(24.5f, "half_cells"));
        string constant = b.Mul(b.ReduceSum(b.Mul(b.Add(e1, e2), b.Initializer("anchor.total.folded", total, [total.Length])), [1], keepDims: true), b.Scalar(0.5f, "half"));
        string map = b.AddOutput(b.Div(b.Add(shares, constant), norms, "anchored_map"), CosMapOutput, [-1, 49]);
        b.AddOutput(b.ReduceSum(b.Mul(map, att), [1], keepDims: false, "xcos"), ScoreOutput, [-1]);
        return Blended(e.Finish("anchored_map_head", null), options);
    }

    // Patch cosine (each cell normalised, then cosine with eps, as F.normalize + F.cosine_similarity), attention and
    // their weighted sum: the cos_map, attention and score outputs.
    private static void AddXcosOutputs(Exporter e, string g1, string g2, string code1, string code2, long side)
    {
        var b = e.B;
        string a = b.L2Normalize(g1, 1, NormalizeEpsilon, "cell1_l2");
        string bb = b.L2Normalize(g2, 1, NormalizeEpsilon, "cell2_l2");
        string dot = b.ReduceSum(b.Mul(a, bb), [1], keepDims: true, "cell_dot");
        string normProduct = b.Mul(b.ReduceL2(a, [1], true), b.ReduceL2(bb, [1], true), "cell_norm_product");
        string cos = b.Div(dot, b.Max(normProduct, b.Scalar(CosineEpsilon, "cos_eps")), "cell_cos");
        string cosFlat = b.AddOutput(b.Flatten(cos, 1), CosMapOutput, [-1, side * side]);

        string att = b.AddOutput(e.Attention(code1, code2), AttentionOutput, [-1, side * side]);
        b.AddOutput(b.ReduceSum(b.Mul(cosFlat, att), [1], keepDims: false, "xcos"), ScoreOutput, [-1]);
    }

    private static ModelProto Blended(ModelProto head, XcosOnnxExportOptions? o) => (o?.CosineWeight ?? 0) == 0 ? head : WithCosineWeight(head, o!.CosineWeight);

    /// <summary>
    /// A map head (<see cref="BuildMapHeadModel"/>, <see cref="BuildAnchoredMapHeadModel"/>, or a shipped
    /// <c>learned_head.onnx</c>) rewritten to blend in the face model's embedding cosine at share
    /// <paramref name="weight"/> (<see cref="XcosOnnxExportOptions.CosineWeight"/>): a third input <c>cosine</c> [N];
    /// <c>cos_map = (1 - w) cos_map + w cosine</c> on every cell and <c>score = (1 - w) score + w cosine</c>, which is
    /// sum(cos_map x attention) because the attention sums to 1. The head's own outputs are kept as
    /// <c>cos_map_head</c> and <c>score_head</c> values inside the graph.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is outside (0, 1).</exception>
    /// <exception cref="InvalidDataException">Not a map head, or one that already takes a cosine.</exception>
    public static ModelProto WithCosineWeight(ModelProto head, double weight)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (!(weight > 0 && weight < 1)) throw new ArgumentOutOfRangeException(nameof(weight), weight, "the cosine's share must be in (0, 1)");
        var m = head.Clone();
        var g = m.Graph;
        var batch = RenameHeadOutputs(g);
        g.Input.Add(FloatInput(CosineInput, batch));
        g.Initializer.Add(FloatScalar("blend.head_share", (float)(1 - weight)));
        g.Initializer.Add(FloatScalar("blend.cosine_share", (float)weight));
        g.Initializer.Add(ColumnShape("blend.column_shape"));
        NodeProto Node(string op, string output, params string[] inputs) => ProtoNode(op, "blend." + output, output, inputs);
        g.Node.Add(Node("Reshape", "blend.cosine_column", CosineInput, "blend.column_shape"));
        g.Node.Add(Node("Mul", "blend.head_map", HeadMapValue, "blend.head_share"));
        g.Node.Add(Node("Mul", "blend.cosine_map", "blend.cosine_column", "blend.cosine_share"));
        g.Node.Add(Node("Add", CosMapOutput, "blend.head_map", "blend.cosine_map"));
        g.Node.Add(Node("Mul", "blend.head_score", HeadScoreValue, "blend.head_share"));
        g.Node.Add(Node("Mul", "blend.cosine_score", CosineInput, "blend.cosine_share"));
        g.Node.Add(Node("Add", ScoreOutput, "blend.head_score", "blend.cosine_score"));
        return m;
    }

    /// <summary>Inputs of a gated head (<see cref="Heads.CosineGateOnnx.WithCosineGate"/>): the original model's embeddings of the two faces, [N, D].</summary>
    public const string Embedding1Input = "face_embedding1", Embedding2Input = "face_embedding2";

    /// <summary>Output of a gated head: the cosine's share in each pair's score, [N].</summary>
    public const string CosineShareOutput = "cosine_share";

    // a map head's own outputs, kept inside a blended or gated graph under these names
    internal const string HeadMapValue = CosMapOutput + "_head", HeadScoreValue = ScoreOutput + "_head";

    // Renames a map head's score and cos_map outputs to the *_head values a blend reads (the graph outputs keep their
    // names for the blend to write); returns the maps' batch dimension. Refuses a head that blends already.
    internal static TensorShapeProto.Types.Dimension RenameHeadOutputs(GraphProto g)
    {
        if (g.Input.Any(i => i.Name is CosineInput or Embedding1Input or Embedding2Input)) throw new InvalidDataException("the head blends in the cosine already");
        var map1 = g.Input.FirstOrDefault(i => i.Name == Map1Input) ?? throw new InvalidDataException($"not a map head: no input '{Map1Input}'");
        foreach (var name in new[] { ScoreOutput, CosMapOutput, AttentionOutput })
            if (g.Output.All(v => v.Name != name)) throw new InvalidDataException($"not a map head: no output '{name}'");
        string Renamed(string v) => v == CosMapOutput ? HeadMapValue : v == ScoreOutput ? HeadScoreValue : v;
        foreach (var n in g.Node)
        {
            for (int i = 0; i < n.Input.Count; i++) n.Input[i] = Renamed(n.Input[i]);
            for (int i = 0; i < n.Output.Count; i++) n.Output[i] = Renamed(n.Output[i]);
        }
        return map1.Type.TensorType.Shape.Dim[0].Clone();
    }

    internal static ValueInfoProto FloatInput(string name, TensorShapeProto.Types.Dimension batch, long? width = null)
    {
        var v = new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() } } };
        v.Type.TensorType.Shape.Dim.Add(batch.Clone());
        if (width is { } w) v.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = w });
        return v;
    }

    internal static TensorProto FloatScalar(string name, float value)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.FloatData.Add(value);
        return t;
    }

    // [-1, 1]: a per-pair value as a column that broadcasts over the 49 cells
    internal static TensorProto ColumnShape(string name)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(2);
        t.Int64Data.Add([-1, 1]);
        return t;
    }

    internal static NodeProto ProtoNode(string op, string name, string output, params string[] inputs)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.Add(inputs);
        n.Output.Add(output);
        return n;
    }

    /// <summary>Builds the embedding model and writes it to <paramref name="path"/>.</summary>
    public static void SaveEmbeddingModel(IReadOnlyDictionary<string, WeightTensor> weights, string path, XcosOnnxExportOptions? options = null) =>
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(BuildEmbeddingModel(weights, options)));

    /// <summary>Builds the pair-head model and writes it to <paramref name="path"/>.</summary>
    public static void SavePairHeadModel(IReadOnlyDictionary<string, WeightTensor> weights, string path, XcosOnnxExportOptions? options = null) =>
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(BuildPairHeadModel(weights, options)));

    /// <summary>Weight lookup with key normalisation and clear errors.</summary>
    private sealed class Weights
    {
        private readonly Dictionary<string, WeightTensor> _map = new(StringComparer.Ordinal);

        public Weights(IReadOnlyDictionary<string, WeightTensor> weights)
        {
            foreach (var (key, value) in weights)
            {
                if (value.Count != value.Data.Length)
                    throw new InvalidDataException($"weight '{key}': shape [{string.Join(",", value.Shape)}] needs {value.Count} values, got {value.Data.Length}");
                // nn.DataParallel checkpoints prefix every key with "module.".
                _map[key.StartsWith("module.", StringComparison.Ordinal) ? key["module.".Length..] : key] = value;
            }
        }

        public bool Has(string key) => _map.ContainsKey(key);

        public IEnumerable<string> Keys => _map.Keys;

        public WeightTensor Get(string key) => _map.TryGetValue(key, out var w) ? w
            : throw new KeyNotFoundException($"xCos weight '{key}' is missing from the weight dictionary ({_map.Count} entries)");

        /// <summary>The weight, checked against <paramref name="shape"/> (-1 matches any dim).</summary>
        public WeightTensor Get(string key, params long[] shape)
        {
            var w = Get(key);
            if (w.Shape.Length != shape.Length || w.Shape.Zip(shape).Any(p => p.Second >= 0 && p.First != p.Second))
                throw new InvalidDataException($"xCos weight '{key}' has shape [{string.Join(",", w.Shape)}]; expected [{string.Join(",", shape.Select(d => d < 0 ? "*" : d.ToString(CultureInfo.InvariantCulture)))}]");
            return w;
        }
    }

    private sealed class Exporter
    {
        public Exporter(Weights w, XcosOnnxExportOptions options)
        {
            W = w;
            O = options;
            B = new OnnxGraphBuilder("xcos") { BatchDimName = options.BatchDimName };
        }

        public Weights W { get; }
        public XcosOnnxExportOptions O { get; }
        public OnnxGraphBuilder B { get; }

        public ModelProto Finish(string kind, string? backbone)
        {
            B.Metadata["xcos.model"] = kind;
            B.Metadata["xcos.batchnorm_folded"] = O.FoldBatchNorm ? "true" : "false";
            B.Metadata["xcos.temperature"] = O.Temperature.ToString("R", CultureInfo.InvariantCulture);
            if (backbone is not null && Arch(W, backbone) is { } arch)
            {
                B.Metadata["xcos.arch"] = arch;
                if (arch != ArchMobileFaceNet)
                {
                    B.Metadata["xcos.stages"] = string.Join(",", StageCounts(W, backbone));
                    B.Metadata["xcos.se"] = arch == ArchIrSe ? "true" : "false";
                }
            }
            return B.Build(docString: $"xCos {kind} model (Lin et al., arXiv 2003.05383), exported by Xcos.ML");
        }

        public static string? Arch(Weights w, string prefix) =>
            w.Has($"{prefix}.conv_6_sep.conv.weight") ? ArchMobileFaceNet
            : w.Has($"{prefix}.body.0.res_layer.5.fc1.weight") ? ArchIrSe
            : w.Has($"{prefix}.body.0.res_layer.1.weight") || w.Has($"{prefix}.input_layer.0.weight") ? ArchIr
            : null;

        public static List<int> StageCounts(Weights w, string prefix) =>
            UnitDepths(w, prefix).Aggregate(new List<(long Depth, int Count)>(), (stages, d) =>
            {
                if (stages.Count > 0 && stages[^1].Depth == d.Cout) stages[^1] = (d.Cout, stages[^1].Count + 1);
                else stages.Add((d.Cout, 1));
                return stages;
            }).Select(s => s.Count).ToList();

        /// <summary>(cin, cout) of every residual unit under prefix, in order.</summary>
        public static List<(long Cin, long Cout)> UnitDepths(Weights w, string prefix)
        {
            var list = new List<(long, long)>();
            for (int i = 0; w.Has($"{prefix}.body.{i}.res_layer.1.weight"); i++)
            {
                var s = w.Get($"{prefix}.body.{i}.res_layer.1.weight", -1, -1, 3, 3).Shape;
                list.Add((s[1], s[0]));
            }
            if (list.Count == 0) throw new KeyNotFoundException($"no residual units '{prefix}.body.N.res_layer.*' in the weight dictionary");
            return list;
        }

        /// <summary>IR / IR-SE trunk: input layer and every residual unit; returns the final map and its channels.</summary>
        public (string Value, long Channels) Backbone(string x, string prefix)
        {
            if (Arch(W, prefix) == ArchMobileFaceNet) return MobileFaceNetTrunk(x, prefix);
            var (h, c) = ConvBnPRelu(x, 3, $"{prefix}.input_layer.0", $"{prefix}.input_layer.1", $"{prefix}.input_layer.2", stride: 1);
            var units = UnitDepths(W, prefix);
            for (int i = 0; i < units.Count; i++)
            {
                var (cin, cout) = units[i];
                if (cin != c) throw new InvalidDataException($"xCos weight '{prefix}.body.{i}.res_layer.1.weight' takes {cin} channels; the previous layer gives {c}");
                // The first unit of each stage (depth change, or unit 0) halves the resolution.
                int stride = i == 0 || units[i - 1].Cout != cout ? 2 : 1;
                h = Unit(h, $"{prefix}.body.{i}", cin, cout, stride);
                c = cout;
            }
            return (h, c);
        }

        /// <summary>
        /// MobileFaceNet trunk (InsightFace_Pytorch layout): conv1 (3x3 s2), conv2_dw (depthwise 3x3), then the
        /// bottleneck stages conv_23 + conv_3, conv_34 + conv_4, conv_45 + conv_5 (the first block of each stage
        /// halves the resolution, the <c>model.N</c> blocks add their input back), and conv_6_sep (1x1) to the final map.
        /// </summary>
        private (string Value, long Channels) MobileFaceNetTrunk(string x, string p)
        {
            var (h, c) = ConvBlock(x, 3, $"{p}.conv1", stride: 2, activation: true);
            (h, c) = ConvBlock(h, c, $"{p}.conv2_dw", stride: 1, activation: true);
            foreach (var (down, residual) in new[] { ("conv_23", "conv_3"), ("conv_34", "conv_4"), ("conv_45", "conv_5") })
            {
                (h, c) = DepthWiseBlock(h, c, $"{p}.{down}", stride: 2, residual: false);
                int blocks = 0;
                for (; W.Has($"{p}.{residual}.model.{blocks}.conv.conv.weight"); blocks++)
                    (h, c) = DepthWiseBlock(h, c, $"{p}.{residual}.model.{blocks}", stride: 1, residual: true);
                if (blocks == 0) throw new KeyNotFoundException($"no residual blocks '{p}.{residual}.model.N.*' in the weight dictionary");
            }
            return ConvBlock(h, c, $"{p}.conv_6_sep", stride: 1, activation: true);
        }

        /// <summary>
        /// Conv (no bias) + BN [+ PReLU] with children conv/bn/prelu. Groups follow from the weight (in-channels over
        /// the weight's second dim: depthwise when they are equal); padding is k/2, except for the global 7x7 conv_6_dw (0).
        /// </summary>
        private (string Value, long Channels) ConvBlock(string x, long cin, string p, int stride, bool activation)
        {
            var w = W.Get($"{p}.conv.weight", -1, -1, -1, -1);
            long cout = w.Shape[0], perGroup = w.Shape[1];
            if (perGroup <= 0 || cin % perGroup != 0 || cout % (cin / perGroup) != 0)
                throw new InvalidDataException($"xCos weight '{p}.conv.weight' has shape [{string.Join(",", w.Shape)}]: its {perGroup} input channels per group do not divide the {cin} channels of the previous layer");
            int group = (int)(cin / perGroup);
            int pad = p.EndsWith(".conv_6_dw", StringComparison.Ordinal) ? 0 : (int)(w.Shape[2] / 2);
            string h = ConvBn(x, $"{p}.conv", $"{p}.bn", cin, cout, stride, bias: false, group, pad);
            return (activation ? PRelu(h, $"{p}.prelu.weight", cout) : h, cout);
        }

        /// <summary>Bottleneck: 1x1 expansion, depthwise 3x3 (stride), linear 1x1 projection, and the input added back when residual.</summary>
        private (string Value, long Channels) DepthWiseBlock(string x, long cin, string p, int stride, bool residual)
        {
            var (h, c) = ConvBlock(x, cin, $"{p}.conv", stride: 1, activation: true);
            (h, c) = ConvBlock(h, c, $"{p}.conv_dw", stride, activation: true);
            (h, c) = ConvBlock(h, c, $"{p}.project", stride: 1, activation: false);
            if (!residual) return (h, c);
            if (c != cin) throw new InvalidDataException($"xCos weight '{p}.project.conv.weight' gives {c} channels; the residual add needs the block's {cin} input channels");
            return (B.Add(h, x, "block_out"), c);
        }

        private string Unit(string x, string p, long cin, long cout, int stride)
        {
            string r = BatchNorm(x, $"{p}.res_layer.0", cin);
            r = Conv(r, $"{p}.res_layer.1", cin, cout, 1, bias: false);
            r = PRelu(r, $"{p}.res_layer.2.weight", cout);
            r = ConvBn(r, $"{p}.res_layer.3", $"{p}.res_layer.4", cout, cout, stride, bias: false);
            if (W.Has($"{p}.res_layer.5.fc1.weight"))
            {
                long mid = W.Get($"{p}.res_layer.5.fc1.weight", -1, cout, 1, 1).Shape[0];
                string s = B.GlobalAveragePool(r, "se_pool");
                s = B.Relu(Conv(s, $"{p}.res_layer.5.fc1", cout, mid, 1, bias: false), "se_relu");
                s = B.Sigmoid(Conv(s, $"{p}.res_layer.5.fc2", mid, cout, 1, bias: false), "se_gate");
                r = B.Mul(r, s, "se_scaled");
            }
            string shortcut = W.Has($"{p}.shortcut_layer.0.weight")
                ? ConvBn(x, $"{p}.shortcut_layer.0", $"{p}.shortcut_layer.1", cin, cout, stride, bias: false)
                : cin == cout ? B.MaxPool(x, 1, stride, 0, "shortcut_pool")
                : throw new KeyNotFoundException($"xCos weight '{p}.shortcut_layer.0.weight' is missing: unit changes depth {cin}->{cout}");
            return B.Add(r, shortcut, "unit_out");
        }

        /// <summary>Conv (bias optional in the weights) + BN + PReLU, as input_layer / conv1x1 / embedding_net.</summary>
        public (string Value, long Channels) ConvBnPRelu(string x, long cin, string conv, string bn, string prelu, int stride, int? pad = null)
        {
            var w = W.Get($"{conv}.weight", -1, cin, -1, -1);
            long cout = w.Shape[0];
            string h = ConvBn(x, conv, bn, cin, cout, stride, bias: W.Has($"{conv}.bias"), pad: pad);
            return (PRelu(h, $"{prelu}.weight", cout), cout);
        }

        /// <summary>Side of the grid: the grid layer is a valid convolution of the 7x7 map, so a k x k kernel gives 8-k (7 for the original's 1x1).</summary>
        public long GridSide()
        {
            var w = W.Get("backbone.conv1x1.0.weight");
            if (w.Shape.Length != 4 || w.Shape[2] != w.Shape[3] || w.Shape[2] is < 1 or > 7)
                throw new InvalidDataException($"xCos weight 'backbone.conv1x1.0.weight' has shape [{string.Join(",", w.Shape)}]; expected a square kernel of side 1..7 (grid side 8 - kernel)");
            return 8 - w.Shape[2];
        }

        /// <summary>The grid layer (conv1x1: conv without padding, BN, PReLU) on a 7x7 map.</summary>
        public (string Value, long Channels) GridLayer(string map, long channels) =>
            ConvBnPRelu(map, channels, "backbone.conv1x1.0", "backbone.conv1x1.1", "backbone.conv1x1.2", stride: 1, pad: 0);

        public (string Value, long Channels) FaceCode(string grid, long channels) =>
            ConvBnPRelu(grid, channels, "attention.embedding_net.0", "attention.embedding_net.1", "attention.embedding_net.2", stride: 1);

        /// <summary>Attention logits of the concatenated face codes, / temperature, softmax over the 49 cells: [N,49].</summary>
        public string Attention(string code1, string code2)
        {
            long k = W.Get("attention.attention.0.weight").Shape[1];
            string x = B.Concat(1, [code1, code2], "codes");
            var (h, c) = ConvBnPRelu(x, k, "attention.attention.0", "attention.attention.1", "attention.attention.2", 1);
            (h, _) = ConvBnPRelu(h, c, "attention.attention.3", "attention.attention.4", "attention.attention.5", 1);
            string logits = B.Flatten(h, 1, "attention_logits");
            if (O.Temperature != 1f) logits = B.Div(logits, B.Scalar(O.Temperature, "temperature"), "attention_tempered");
            return B.Softmax(logits, 1, "attention_softmax");
        }

        /// <summary>backbone_target: trunk, BN2d, flatten, linear, BN1d, L2 normalisation.</summary>
        public (string Value, long Dims) TargetEmbedding(string image)
        {
            var (x, c) = Backbone(image, "backbone_target");
            if (Arch(W, "backbone_target") == ArchMobileFaceNet) return MobileFaceNetTargetHead(x, c);
            const string p = "backbone_target.output_layer";
            var lin = W.Get($"{p}.3.weight", -1, -1);
            long outDims = lin.Shape[0], inDims = lin.Shape[1];
            if (inDims % c != 0) throw new InvalidDataException($"xCos weight '{p}.3.weight' takes {inDims} features, not a multiple of {c} channels");
            var (s0, t0) = BnAffine($"{p}.0", c);
            var linBias = W.Get($"{p}.3.bias", outDims).Data;
            string flat;
            if (O.FoldBatchNorm)
            {
                var (s1, t1) = BnAffine($"{p}.4", outDims);
                long spatial = inDims / c;
                var wf = new float[lin.Data.Length];
                var bf = new float[outDims];
                for (long o = 0; o < outDims; o++)
                {
                    double acc = linBias[o];
                    for (long j = 0; j < inDims; j++)
                    {
                        long ch = j / spatial;
                        double wv = lin.Data[o * inDims + j];
                        acc += wv * t0[ch];
                        wf[o * inDims + j] = (float)(wv * s0[ch] * s1[o]);
                    }
                    bf[o] = (float)(acc * s1[o] + t1[o]);
                }
                flat = B.Flatten(x, 1, "target_flat");
                flat = B.Gemm(flat, B.Initializer($"{p}.3.weight.folded", wf, lin.Shape), B.Initializer($"{p}.3.bias.folded", bf, [outDims]), true, "target_linear");
            }
            else
            {
                string h = BatchNorm(x, $"{p}.0", c);
                flat = B.Flatten(h, 1, "target_flat");
                flat = B.Gemm(flat, B.Initializer($"{p}.3.weight", lin.Data, lin.Shape), B.Initializer($"{p}.3.bias", linBias, [outDims]), true, "target_linear");
                flat = BatchNorm(flat, $"{p}.4", outDims);
            }
            return (B.L2Normalize(flat, 1, 0f, "target_l2"), outDims);
        }

        /// <summary>MobileFaceNet plain head: conv_6_dw (global depthwise 7x7 + BN), flatten, linear (no bias), BN1d, L2 normalisation.</summary>
        private (string Value, long Dims) MobileFaceNetTargetHead(string features, long c)
        {
            const string p = "backbone_target";
            var (h, _) = ConvBlock(features, c, $"{p}.conv_6_dw", stride: 1, activation: false);
            var lin = W.Get($"{p}.linear.weight", -1, c);
            long outDims = lin.Shape[0];
            string flat = B.Flatten(h, 1, "target_flat");
            if (O.FoldBatchNorm)
            {
                var (s, t) = BnAffine($"{p}.bn", outDims);
                var wf = new float[lin.Data.Length];
                var bf = new float[outDims];
                for (long o = 0; o < outDims; o++)
                {
                    for (long j = 0; j < c; j++) wf[o * c + j] = (float)(lin.Data[o * c + j] * s[o]);
                    bf[o] = (float)t[o];
                }
                flat = B.Gemm(flat, B.Initializer($"{p}.linear.weight.folded", wf, lin.Shape), B.Initializer($"{p}.bn.bias.folded", bf, [outDims]), true, "target_linear");
            }
            else
            {
                flat = B.Gemm(flat, B.Initializer($"{p}.linear.weight", lin.Data, lin.Shape), null, true, "target_linear");
                flat = BatchNorm(flat, $"{p}.bn", outDims);
            }
            return (B.L2Normalize(flat, 1, 0f, "target_l2"), outDims);
        }

        private string Conv(string x, string prefix, long cin, long cout, int stride, bool bias, int group = 1, int? pad = null)
        {
            var w = W.Get($"{prefix}.weight", cout, cin / group, -1, -1);
            string wn = B.Initializer($"{prefix}.weight", w.Data, w.Shape);
            string? bn = bias ? B.Initializer($"{prefix}.bias", W.Get($"{prefix}.bias", cout).Data, [cout]) : null;
            return B.Conv(x, wn, bn, stride, pad ?? (int)(w.Shape[2] / 2), group, name: "conv");
        }

        private string ConvBn(string x, string conv, string bn, long cin, long cout, int stride, bool bias, int group = 1, int? pad = null)
        {
            if (!O.FoldBatchNorm) return BatchNorm(Conv(x, conv, cin, cout, stride, bias, group, pad), bn, cout);
            var w = W.Get($"{conv}.weight", cout, cin / group, -1, -1);
            float[]? b0 = bias ? W.Get($"{conv}.bias", cout).Data : null;
            var (s, t) = BnAffine(bn, cout);
            long per = w.Data.Length / cout;
            var wf = new float[w.Data.Length];
            var bf = new float[cout];
            for (long o = 0; o < cout; o++)
            {
                for (long j = 0; j < per; j++) wf[o * per + j] = (float)(w.Data[o * per + j] * s[o]);
                bf[o] = (float)((b0?[o] ?? 0.0) * s[o] + t[o]);
            }
            string wn = B.Initializer($"{conv}.weight.folded", wf, w.Shape);
            string bn2 = B.Initializer($"{conv}.bias.folded", bf, [cout]);
            return B.Conv(x, wn, bn2, stride, pad ?? (int)(w.Shape[2] / 2), group, name: "conv_bn");
        }

        /// <summary>
        /// The embedding head <c>anchor.*</c> as e = W' (sum_c K'_c m_c + beta) + bias, BNs folded (float64), and its
        /// constant part total = W' beta + bias.
        /// </summary>
        public (float[] Kernel, float[] Beta, float[] Weight, float[] Bias, float[] Total) AnchorAffine(long c)
        {
            var dw = W.Get("anchor.conv_6_dw.conv.weight", c, 1, 7, 7);
            var (s1, t1) = BnAffine("anchor.conv_6_dw.bn", c);
            var lin = W.Get("anchor.linear.weight", -1, c);
            long outDims = lin.Shape[0];
            var (s2, t2) = BnAffine("anchor.bn", outDims);
            var kernel = new float[c * 49];
            for (long ch = 0; ch < c; ch++)
                for (int j = 0; j < 49; j++) kernel[ch * 49 + j] = (float)(dw.Data[ch * 49 + j] * s1[ch]);
            var weight = new float[outDims * c];
            var total = new float[outDims];
            for (long o = 0; o < outDims; o++)
            {
                double acc = t2[o];
                for (long j = 0; j < c; j++)
                {
                    double wv = lin.Data[o * c + j] * s2[o];
                    weight[o * c + j] = (float)wv;
                    acc += wv * t1[j];
                }
                total[o] = (float)acc;
            }
            return (kernel, t1.Select(v => (float)v).ToArray(), weight, t2.Select(v => (float)v).ToArray(), total);
        }

        /// <summary>Eval-mode BN as y = x·s + t per channel, in float64.</summary>
        private (double[] Scale, double[] Shift) BnAffine(string prefix, long channels)
        {
            var gamma = W.Get($"{prefix}.weight", channels).Data;
            var beta = W.Get($"{prefix}.bias", channels).Data;
            var mean = W.Get($"{prefix}.running_mean", channels).Data;
            var variance = W.Get($"{prefix}.running_var", channels).Data;
            var s = new double[channels];
            var t = new double[channels];
            for (long i = 0; i < channels; i++)
            {
                s[i] = gamma[i] / Math.Sqrt((double)variance[i] + O.BatchNormEpsilon);
                t[i] = beta[i] - mean[i] * s[i];
            }
            return (s, t);
        }

        private string BatchNorm(string x, string prefix, long channels)
        {
            string Init(string field) => B.Initializer($"{prefix}.{field}", W.Get($"{prefix}.{field}", channels).Data, [channels]);
            return B.BatchNormalization(x, Init("weight"), Init("bias"), Init("running_mean"), Init("running_var"), O.BatchNormEpsilon, "bn");
        }

        private string PRelu(string x, string key, long channels)
        {
            var w = W.Get(key);
            if (w.Shape.Length != 1 || (w.Shape[0] != channels && w.Shape[0] != 1))
                throw new InvalidDataException($"xCos weight '{key}' has shape [{string.Join(",", w.Shape)}]; expected [{channels}] or [1]");
            // Per-channel slopes broadcast against NCHW as [C,1,1]; a single slope as [1].
            long[] shape = w.Shape[0] == 1 ? [1] : [channels, 1, 1];
            return B.PRelu(x, B.Initializer(key, w.Data, shape), "prelu");
        }
    }
}
