using Xcos.ML.Numerics;
using Xcos.ML.Onnx.Proto;
using DataType = Xcos.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace Xcos.ML.Onnx;

/// <summary>
/// Post-training static int8 quantization in QDQ form. The float input of every Conv, Gemm and MatMul with a
/// stored weight, and its output, pass through QuantizeLinear/DequantizeLinear with a per-tensor scale calibrated
/// on sample inputs; weights become int8 per output channel, symmetric (zero point 0, range ±127); biases
/// become int32 at scale input·weight. ONNX Runtime fuses each DQ → Conv → Q group into an integer kernel.
/// </summary>
/// <remarks>
/// A quantized value keeps its name: its producer writes <c>name_float</c>, and the DequantizeLinear writes
/// <c>name</c>, so every consumer and graph output reads the quantized value without being rewired.
/// </remarks>
public static class OnnxQuantizer
{
    /// <summary>metadata_props key: how the model was quantized.</summary>
    public const string QuantizationKey = "xcos.quantization";
    /// <summary>metadata_props key: the calibration set (<see cref="OnnxQuantizerOptions.CalibrationDescription"/>, sample count).</summary>
    public const string CalibrationKey = "xcos.calibration";

    // Ops whose semantics are unchanged from opset 9 to 13, so a model using only these may be lifted to opset 13
    // (per-channel DequantizeLinear needs its axis attribute, new in 13).
    private static readonly HashSet<string> StableTo13 = new(StringComparer.Ordinal)
    {
        "Conv", "BatchNormalization", "PRelu", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Add", "Sub", "Mul", "Div", "Gemm", "MatMul",
        "Flatten", "Reshape", "GlobalAveragePool", "AveragePool", "MaxPool", "Constant", "Identity", "Concat", "Transpose", "Shape",
        "Gather", "Sqrt", "Pow", "Exp", "ReduceMean", "ReduceL2", "Max", "Min", "Neg", "Abs",
    };

    /// <summary>True when the model's metadata says it was quantized by this class.</summary>
    public static bool IsQuantized(ModelProto model) => model.MetadataProps.Any(p => p.Key == QuantizationKey);

    /// <summary>Quantizes <paramref name="model"/> (not changed) with ranges calibrated on <paramref name="feeds"/>.</summary>
    /// <param name="model">A float model with default-domain opset 13 or newer, or older with only ops whose meaning is the same in 13.</param>
    /// <param name="feeds">Calibration batches: input name to data and shape.</param>
    /// <param name="options">Calibration and selection settings.</param>
    /// <exception cref="NotSupportedException">The opset is too old to lift, or the model is already quantized.</exception>
    /// <exception cref="InvalidDataException">No node has a quantizable float weight.</exception>
    public static QuantizationResult Quantize(ModelProto model, IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> feeds,
        OnnxQuantizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxQuantizerOptions();
        options.Validate();
        if (IsQuantized(model)) throw new NotSupportedException("the model is already quantized (metadata " + QuantizationKey + ")");
        var m = model.Clone();
        LiftOpset(m);
        var g = m.Graph;
        var init = g.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var graphOutputs = g.Output.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);

        var selected = new List<Selected>();
        for (int i = 0; i < g.Node.Count; i++)
        {
            var n = g.Node[i];
            string label = n.Name.Length > 0 ? n.Name : $"{n.OpType}_{i}";
            if (!options.OpTypes.Contains(n.OpType) || options.ExcludeNodes.Contains(label) || n.Input.Count < 2 || n.Output.Count < 1) continue;
            if (init.ContainsKey(n.Input[0]) || !init.TryGetValue(n.Input[1], out var w) || (DataType)w.DataType != DataType.Float) continue;
            if (!options.QuantizeGroupedConvolutions && n.OpType == "Conv" && (n.Attribute.FirstOrDefault(a => a.Name == "group")?.I ?? 1) > 1) continue;
            int? axis = WeightAxis(n, w);
            if (axis is null) continue;
            selected.Add(new Selected(i, label, axis.Value));
        }
        // A quantized node's output must be quantized too for ONNX Runtime to fuse it into an integer kernel. Where no other
        // quantized node lies downstream (the embedding layer) that would only round the result, and without it the node
        // runs in float anyway, so such a node keeps its float weights.
        var isSelected = selected.Select(s => s.Index).ToHashSet();
        var feedsQuantized = new HashSet<string>(StringComparer.Ordinal);
        for (int i = g.Node.Count - 1; i >= 0; i--)
        {
            var n = g.Node[i];
            if (isSelected.Contains(i) || n.Output.Any(feedsQuantized.Contains)) feedsQuantized.UnionWith(n.Input);
        }
        selected.RemoveAll(s => (options.KeepGraphOutputsFloat && graphOutputs.Contains(g.Node[s.Index].Output[0]))
                                || (options.KeepLastLayersFloat && !feedsQuantized.Contains(g.Node[s.Index].Output[0])));
        if (selected.Count == 0)
            throw new InvalidDataException("no Conv, Gemm or MatMul node with a stored float weight to quantize (a last layer, whose output reaches no other such node, stays float)");
        var all = Values(g, selected);
        // PRelu slopes are per channel and ONNX Runtime has no integer PRelu, so a PRelu next to a quantized value is
        // calibrated (and later quantized) in the form Relu(y) + (−a)·Relu(−y), whose parts have integer kernels.
        var sites = options.IntegerPRelu ? PReluSites(g, init, all.ToHashSet(StringComparer.Ordinal)) : [];
        var calibrated = sites.Count == 0 ? model : WithFloatPRelus(m, sites);
        var ranges = ActivationCalibrator.Ranges(calibrated, all.Concat(sites.SelectMany(s => s.Values)).Distinct(StringComparer.Ordinal).ToList(), feeds, options);
        var (qm, activations) = Build(m, selected, ranges, options, sites);
        if (options.TargetCosine > 0) (qm, activations, selected) = FallBack(model, m, qm, selected, ranges, feeds, options, sites);
        int prelus = qm.Graph.Node.Count(n => n.OpType == "LeakyRelu" && n.Name.EndsWith(PReluSite.ReluSuffix, StringComparison.Ordinal));

        SetMetadata(qm, QuantizationKey, $"int8 QDQ: weights int8 per output channel symmetric; activations {(options.SignedActivations ? "int8 symmetric" : "uint8 asymmetric")} per tensor, " +
            $"{(options.Method == CalibrationMethod.MinMax ? "min/max" : $"percentile {options.Percentile}")}; {selected.Count} nodes ({string.Join(", ", selected.GroupBy(s => g.Node[s.Index].OpType).Select(t => $"{t.Count()} {t.Key}"))})" +
            (prelus > 0 ? $"; {prelus} PRelu as integer Relu(x) + (-slope)·Relu(-x)" : ""));
        int samples = feeds.Sum(f => f.Values.Select(v => v.Shape.Length > 0 ? (int)v.Shape[0] : 1).DefaultIfEmpty(1).Max());
        SetMetadata(qm, CalibrationKey, $"{samples} samples in {feeds.Count} batches" + (options.CalibrationDescription.Length > 0 ? ": " + options.CalibrationDescription : ""));
        return new QuantizationResult(qm, selected.Select(s => s.Label).ToList(), activations);
    }

    private sealed record Selected(int Index, string Label, int Axis);

    /// <summary>The activations to quantize: input and output of each chosen node, in graph order.</summary>
    private static List<string> Values(GraphProto g, IEnumerable<Selected> chosen)
    {
        var values = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in chosen)
        {
            var n = g.Node[s.Index];
            if (seen.Add(n.Input[0])) values.Add(n.Input[0]);
            if (seen.Add(n.Output[0])) values.Add(n.Output[0]);
        }
        return values;
    }

    /// <summary>
    /// Leaves nodes in float, most harmful first, until the mean cosine between the float and quantized first output
    /// on the calibration set reaches <see cref="OnnxQuantizerOptions.TargetCosine"/>. Harm is measured once per node:
    /// the cosine gained by keeping only that node in float.
    /// </summary>
    private static (ModelProto, IReadOnlyList<QuantizedValue>, List<Selected>) FallBack(ModelProto original, ModelProto lifted, ModelProto full,
        List<Selected> selected, IReadOnlyDictionary<string, (float Low, float High)> ranges,
        IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> feeds, OnnxQuantizerOptions options, IReadOnlyList<PReluSite> sites)
    {
        string output = original.Graph.Output[0].Name;
        var reference = Outputs(original, feeds, output, options.IntraOpThreads);
        double Score(ModelProto q)
        {
            var o = Outputs(q, feeds, output, options.IntraOpThreads);
            return reference.Zip(o).Average(t => Agreement(t.First, t.Second));
        }
        var best = Build(lifted, selected, ranges, options, sites);
        double score = Score(best.Model);
        if (score >= options.TargetCosine) return (best.Model, best.Activations, selected);
        var gain = selected.ToDictionary(s => s, s => Score(Build(lifted, selected.Where(x => x != s).ToList(), ranges, options, sites).Model));
        var kept = selected.ToList();
        foreach (var s in selected.OrderByDescending(s => gain[s]).Take(options.MaxFallbackNodes))
        {
            kept.Remove(s);
            if (kept.Count == 0) break;
            best = Build(lifted, kept, ranges, options, sites);
            score = Score(best.Model);
            if (score >= options.TargetCosine) break;
        }
        return (best.Model, best.Activations, kept);
    }

    /// <summary>The rows of one output over all feeds, each row one sample.</summary>
    private static List<float[]> Outputs(ModelProto model, IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> feeds, string output, int threads)
    {
        using var opts = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0) { opts.IntraOpNumThreads = threads; opts.InterOpNumThreads = 1; }
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), opts);
        var rows = new List<float[]>();
        foreach (var feed in feeds)
        {
            var names = feed.Keys.ToList();
            var values = names.Select(n => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(feed[n].Data, feed[n].Shape)).ToList();
            try
            {
                using var ro = new Microsoft.ML.OnnxRuntime.RunOptions();
                using var outs = session.Run(ro, names, values, [output]);
                var data = outs[0].GetTensorDataAsSpan<float>().ToArray();
                int n = (int)outs[0].GetTensorTypeAndShape().Shape[0], d = data.Length / Math.Max(1, n);
                for (int i = 0; i < n; i++) rows.Add(data[(i * d)..((i + 1) * d)]);
            }
            finally { values.ForEach(v => v.Dispose()); }
        }
        return rows;
    }

    /// <summary>
    /// Agreement of a float and a quantized output row: their cosine, 1 when both are the same (even all zero: nothing was
    /// lost), 0 when only one has no direction (quantizing destroyed or invented the signal).
    /// </summary>
    private static double Agreement(float[] a, float[] b)
    {
        if (a.AsSpan().SequenceEqual(b)) return 1;
        return VectorMath.HasDirection(a) && VectorMath.HasDirection(b) ? VectorMath.Cosine(a, b) : 0;
    }

    /// <summary>The QDQ model with the chosen nodes quantized (the lifted float model is not changed).</summary>
    private static (ModelProto Model, IReadOnlyList<QuantizedValue> Activations) Build(ModelProto lifted, List<Selected> chosen,
        IReadOnlyDictionary<string, (float Low, float High)> ranges, OnnxQuantizerOptions options, IReadOnlyList<PReluSite> sites)
    {
        var m = lifted.Clone();
        var g = m.Graph;
        var init = g.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var graphInputs = g.Input.Select(v => v.Name).Where(n => !init.ContainsKey(n)).ToHashSet(StringComparer.Ordinal);
        var values = Values(g, chosen);
        var q = values.ToDictionary(v => v, v => Params(v, ranges[v], options.SignedActivations), StringComparer.Ordinal);
        // A PRelu goes integer where its input or its output is quantized anyway (next to a quantized node); where the
        // nodes on both sides were left in float, the PRelu stays as it was.
        var active = sites.Where(s => q.ContainsKey(s.Input)).ToDictionary(s => s.Output, StringComparer.Ordinal);
        foreach (var v in active.Values.SelectMany(s => s.Values)) q.TryAdd(v, Params(v, ranges[v], options.SignedActivations));
        // A PRelu whose input is quantized only for it must not put a float Conv, Gemm or MatMul (a depthwise convolution
        // left float) between a DequantizeLinear and a QuantizeLinear: ONNX Runtime would then quantize that node's weights
        // itself, one scale per tensor (on fr_feature the mean embedding cosine fell from 0.997 to 0.994).
        var chosenNodes = chosen.Select(c => g.Node[c.Index]).ToHashSet(ReferenceEqualityComparer.Instance);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in g.Node) foreach (var o in n.Output) producers[o] = n;
        foreach (var s in sites.Where(s => !active.ContainsKey(s.Output) && s.SoleReader && q.ContainsKey(s.Output)))
        {
            var p = producers[s.Input];
            if (p.OpType is "Conv" or "Gemm" or "MatMul" && !chosenNodes.Contains(p) && p.Input.Count > 0 && q.ContainsKey(p.Input[0])) continue;
            active[s.Output] = s;
            foreach (var v in s.Values) q.TryAdd(v, Params(v, ranges[v], options.SignedActivations));
        }
        values = values.Concat(active.Values.SelectMany(s => s.Values)).Distinct(StringComparer.Ordinal).ToList();

        var names = new HashSet<string>(g.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(init.Keys).Concat(g.Input.Select(v => v.Name)), StringComparer.Ordinal);
        string Fresh(string b) { string s = b; for (int k = 1; !names.Add(s); k++) s = $"{b}_{k}"; return s; }
        var scalars = new Dictionary<string, (string Scale, string Zero)>(StringComparer.Ordinal);
        (string Scale, string Zero) ScaleZero(QuantizedValue v)
        {
            if (scalars.TryGetValue(v.Name, out var sz)) return sz;
            string s = Fresh(v.Name + "_scale"), z = Fresh(v.Name + "_zero_point");
            g.Initializer.Add(OnnxTensors.FromFloat(s, [v.Scale], []));
            g.Initializer.Add(options.SignedActivations ? OnnxTensors.FromInt8(z, [(sbyte)v.ZeroPoint], []) : OnnxTensors.FromUInt8(z, [(byte)v.ZeroPoint], []));
            return scalars[v.Name] = (s, z);
        }
        NodeProto[] QdqPair(string from, string to, QuantizedValue v)
        {
            var (s, z) = ScaleZero(v);
            string qv = Fresh(v.Name + "_quantized");
            var qn = new NodeProto { OpType = "QuantizeLinear", Name = Fresh(v.Name + "_QuantizeLinear") };
            qn.Input.Add(new[] { from, s, z }); qn.Output.Add(qv);
            var dn = new NodeProto { OpType = "DequantizeLinear", Name = Fresh(v.Name + "_DequantizeLinear") };
            dn.Input.Add(new[] { qv, s, z }); dn.Output.Add(to);
            return [qn, dn];
        }

        var nodes = new List<NodeProto>();
        var inputRename = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in values.Where(graphInputs.Contains))
        {
            inputRename[v] = Fresh(v + "_dequantized");
            nodes.AddRange(QdqPair(v, inputRename[v], q[v]));
        }
        // By reference: protobuf messages hash by value, and renaming an input below would change the hash.
        var byNode = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        foreach (var s in chosen) byNode[g.Node[s.Index]] = s.Axis;
        var weightDq = new Dictionary<string, (string Value, float[] Scales)>(StringComparer.Ordinal);
        // A constant operand of an integer Mul: one scale for the tensor, the activations' type.
        string QuantizedConstant(string name, float[] data, long[] dims)
        {
            var v = Params(name, (data.Min(), data.Max()), options.SignedActivations);
            string qName = Fresh(name + "_quantized"), sName = Fresh(name + "_scale"), zName = Fresh(name + "_zero_point"), value = Fresh(name + "_dequantized");
            int lo = options.SignedActivations ? -127 : 0, hi = options.SignedActivations ? 127 : 255;
            var ints = data.Select(x => Math.Clamp((int)MathF.Round(x / v.Scale) + v.ZeroPoint, lo, hi)).ToArray();
            g.Initializer.Add(options.SignedActivations ? OnnxTensors.FromInt8(qName, ints.Select(i => (sbyte)i).ToArray(), dims) : OnnxTensors.FromUInt8(qName, ints.Select(i => (byte)i).ToArray(), dims));
            g.Initializer.Add(OnnxTensors.FromFloat(sName, [v.Scale], []));
            g.Initializer.Add(options.SignedActivations ? OnnxTensors.FromInt8(zName, [(sbyte)v.ZeroPoint], []) : OnnxTensors.FromUInt8(zName, [(byte)v.ZeroPoint], []));
            var dq = new NodeProto { OpType = "DequantizeLinear", Name = Fresh(name + "_DequantizeLinear") };
            dq.Input.Add(new[] { qName, sName, zName });
            dq.Output.Add(value);
            nodes.Add(dq);
            return value;
        }
        IEnumerable<NodeProto> Expand(NodeProto n)
        {
            if (n.OpType != "PRelu" || !active.TryGetValue(n.Output[0], out var site)) return [n];
            var slope = init[site.Slope];
            float[] a = OnnxTensors.ToFloat(slope);
            long[] dims = slope.Dims.ToArray();
            // Slopes per channel ([C,1,1] on NCHW) multiply as 1x1 depthwise convolutions, whose int8 weights have one scale
            // per channel (an integer Mul takes one scale for the whole constant, too coarse where the slopes differ in size);
            // ONNX Runtime runs them as QLinearConv. One slope for all channels stays a Mul by a quantized scalar.
            if (dims.Length == 3 && dims[1] == 1 && dims[2] == 1 && dims[0] > 1)
            {
                string Weight(string baseName, float[] data)
                {
                    var (node, value, _) = QuantizeWeight(OnnxTensors.FromFloat(baseName, data, [dims[0], 1, 1, 1]), 0, Fresh);
                    g.Initializer.Add(node.Initializers);
                    nodes.Add(node.Dq);
                    return value;
                }
                return site.Nodes(n.Name, Weight(site.Slope + "_minus_one", Enumerable.Repeat(-1f, (int)dims[0]).ToArray()),
                    Weight(site.Slope + "_negated", a.Select(x => -x).ToArray()), dims[0]);
            }
            return site.Nodes(n.Name, QuantizedConstant(site.Slope + "_minus_one", [-1f], [1]), QuantizedConstant(site.Slope + "_negated", a.Select(x => -x).ToArray(), dims));
        }
        foreach (var n in g.Node.ToList().SelectMany(Expand))
        {
            for (int i = 0; i < n.Input.Count; i++)
                if (inputRename.TryGetValue(n.Input[i], out var r)) n.Input[i] = r;
            if (byNode.TryGetValue(n, out int axis))
            {
                string wName = n.Input[1];
                if (!weightDq.TryGetValue(wName, out var wq))
                {
                    var (node, value, scales) = QuantizeWeight(init[wName], axis, Fresh);
                    g.Initializer.Add(node.Initializers);
                    nodes.Add(node.Dq);
                    weightDq[wName] = wq = (value, scales);
                }
                n.Input[1] = wq.Value;
                if (n.Input.Count > 2 && init.TryGetValue(n.Input[2], out var bias) && (DataType)bias.DataType == DataType.Float
                    && bias.Dims.Count == 1 && bias.Dims[0] == wq.Scales.Length)
                {
                    var (bNode, bValue) = QuantizeBias(bias, q[FindOriginal(n.Input[0], inputRename)].Scale, wq.Scales, Fresh);
                    g.Initializer.Add(bNode.Initializers);
                    nodes.Add(bNode.Dq);
                    n.Input[2] = bValue;
                }
            }
            nodes.Add(n);
            for (int o = 0; o < n.Output.Count; o++)
            {
                string name = n.Output[o];
                if (!q.TryGetValue(name, out var v)) continue;
                string raw = Fresh(name + "_float");
                n.Output[o] = raw;
                nodes.AddRange(QdqPair(raw, name, v));
            }
        }
        g.Node.Clear();
        g.Node.Add(nodes);
        RemoveUnused(g);
        return (m, values.Select(v => q[v]).ToList());
    }

    /// <summary>
    /// A PRelu next to a quantized node whose slope a is a stored float tensor, written as
    /// <c>Relu(y) + (−a)·Relu(−y)</c> (y = <see cref="Input"/>): <see cref="Relu"/> = LeakyRelu(y, 0), <see cref="Negated"/> =
    /// −y (not quantized: its Relu folds into the QuantizeLinear after it), <see cref="NegativeRelu"/> = Relu(−y),
    /// <see cref="Linear"/> = (−a)·Relu(−y), and <see cref="Output"/> keeps the PRelu's output name. Each term is zero where
    /// the other is not, so no two large quantized terms cancel (as in Relu(y)·(1 − a) + y·a when a slope is far from 0).
    /// <see cref="SoleReader"/>: the PRelu is the only reader of its input (which may then be quantized for it alone).
    /// </summary>
    private sealed record PReluSite(string Input, string Slope, string Output, bool SoleReader)
    {
        public const string ReluSuffix = "_prelu_relu";
        public string Relu => Output + ReluSuffix;
        public string Negated => Output + "_prelu_negated";
        public string NegativeRelu => Output + "_prelu_negative_relu";
        public string Linear => Output + "_prelu_linear";
        /// <summary>Every value of the rewritten form that gets a quantization range.</summary>
        public IEnumerable<string> Values => [Input, Relu, NegativeRelu, Linear, Output];
        public IEnumerable<string> NewNames => [Relu, Negated, NegativeRelu, Linear];

        /// <summary>
        /// The nodes, given the factors −1 and −a; with <paramref name="channels"/> the two products are 1x1 depthwise
        /// convolutions whose weights are [channels,1,1,1], otherwise Mul.
        /// </summary>
        public NodeProto[] Nodes(string name, string minusOne, string minusSlope, long? channels = null)
        {
            string prefix = name.Length > 0 ? name : Output;
            var relu = new NodeProto { OpType = "LeakyRelu", Name = prefix + ReluSuffix };
            relu.Input.Add(Input); relu.Output.Add(Relu); relu.Attribute.Add(OnnxAttr.Float("alpha", 0f));
            NodeProto Product(string x, string factor, string output, string suffix)
            {
                var n = new NodeProto { OpType = channels is null ? "Mul" : "Conv", Name = prefix + suffix };
                n.Input.Add(new[] { x, factor }); n.Output.Add(output);
                if (channels is long c) n.Attribute.Add(new[] { OnnxAttr.Int("group", c), OnnxAttr.Ints("kernel_shape", 1, 1) });
                return n;
            }
            var negated = Product(Input, minusOne, Negated, "_prelu_negated");
            var negativeRelu = new NodeProto { OpType = "Relu", Name = prefix + "_prelu_negative_relu" };
            negativeRelu.Input.Add(Negated); negativeRelu.Output.Add(NegativeRelu);
            var linear = Product(NegativeRelu, minusSlope, Linear, "_prelu_linear");
            var sum = new NodeProto { OpType = "Add", Name = prefix + "_prelu_sum" };
            sum.Input.Add(new[] { Relu, Linear }); sum.Output.Add(Output);
            return [relu, negated, negativeRelu, linear, sum];
        }
    }

    /// <summary>
    /// The PRelu nodes to rewrite: input or output among <paramref name="quantized"/> (the output of a quantized node, or
    /// the input of one: after a float depthwise convolution, a PRelu whose input only it reads), input produced by a
    /// node, slope a stored float tensor.
    /// </summary>
    private static List<PReluSite> PReluSites(GraphProto g, Dictionary<string, TensorProto> init, HashSet<string> quantized)
    {
        var produced = g.Node.SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);
        var readers = g.Node.SelectMany(n => n.Input).Concat(g.Output.Select(o => o.Name)).GroupBy(v => v, StringComparer.Ordinal)
            .ToDictionary(t => t.Key, t => t.Count(), StringComparer.Ordinal);
        var names = new HashSet<string>(g.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(init.Keys), StringComparer.Ordinal);
        var sites = new List<PReluSite>();
        foreach (var n in g.Node.Where(n => n.OpType == "PRelu" && n.Input.Count == 2 && n.Output.Count == 1))
        {
            string y = n.Input[0];
            if (!produced.Contains(y) || !(quantized.Contains(y) || (quantized.Contains(n.Output[0]) && readers[y] == 1))) continue;
            if (!init.TryGetValue(n.Input[1], out var slope) || (DataType)slope.DataType != DataType.Float) continue;
            var site = new PReluSite(y, n.Input[1], n.Output[0], readers[y] == 1);
            if (site.NewNames.Any(names.Contains)) continue;
            sites.Add(site);
        }
        return sites;
    }

    /// <summary>A copy of the (lifted) float model with the <paramref name="sites"/> in their rewritten float form, to calibrate the new values.</summary>
    private static ModelProto WithFloatPRelus(ModelProto lifted, IReadOnlyList<PReluSite> sites)
    {
        var m = lifted.Clone();
        var g = m.Graph;
        var init = g.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var byOutput = sites.ToDictionary(s => s.Output, StringComparer.Ordinal);
        var nodes = new List<NodeProto>();
        foreach (var n in g.Node)
        {
            if (n.OpType != "PRelu" || !byOutput.TryGetValue(n.Output[0], out var site)) { nodes.Add(n); continue; }
            var slope = init[site.Slope];
            float[] a = OnnxTensors.ToFloat(slope);
            string minusOne = site.Slope + "_minus_one", minusSlope = site.Slope + "_negated";
            g.Initializer.Add(OnnxTensors.FromFloat(minusOne, [-1f], [1]));
            g.Initializer.Add(OnnxTensors.FromFloat(minusSlope, a.Select(x => -x).ToArray(), slope.Dims.ToArray()));
            nodes.AddRange(site.Nodes(n.Name, minusOne, minusSlope));
        }
        g.Node.Clear();
        g.Node.Add(nodes);
        RemoveUnused(g);   // the PRelu slopes (else ONNX Runtime warns about each one)
        return m;
    }

    private static string FindOriginal(string name, Dictionary<string, string> inputRename) =>
        inputRename.FirstOrDefault(kv => kv.Value == name).Key ?? name;

    /// <summary>The output-channel axis of the weight, or null when the node is not in a form this class quantizes.</summary>
    private static int? WeightAxis(NodeProto n, TensorProto w)
    {
        long Attr(string a, long d) => n.Attribute.FirstOrDefault(x => x.Name == a)?.I ?? d;
        return n.OpType switch
        {
            "Conv" when w.Dims.Count >= 3 => 0,
            "Gemm" when w.Dims.Count == 2 && Attr("transA", 0) == 0 => Attr("transB", 0) == 1 ? 0 : 1,
            "MatMul" when w.Dims.Count == 2 => 1,
            _ => null,
        };
    }

    private static QuantizedValue Params(string name, (float Low, float High) r, bool signed)
    {
        float lo = Math.Min(r.Low, 0f), hi = Math.Max(r.High, 0f);
        if (signed)
        {
            float a = Math.Max(-lo, hi);
            return new QuantizedValue(name, r.Low, r.High, a > 0 ? a / 127f : 1f, 0);
        }
        float scale = hi > lo ? (hi - lo) / 255f : 1f;
        int zero = Math.Clamp((int)MathF.Round(-lo / scale), 0, 255);
        return new QuantizedValue(name, r.Low, r.High, scale, zero);
    }

    private sealed record DqNode(NodeProto Dq, TensorProto[] Initializers);

    private static (DqNode Node, string Value, float[] Scales) QuantizeWeight(TensorProto w, int axis, Func<string, string> fresh)
    {
        float[] data = OnnxTensors.ToFloat(w);
        long[] dims = w.Dims.ToArray();
        int channels = (int)dims[axis];
        long inner = dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        var scales = new float[channels];
        for (long i = 0; i < data.Length; i++)
        {
            int c = (int)(i / inner % channels);
            scales[c] = Math.Max(scales[c], Math.Abs(data[i]));
        }
        for (int c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        var qd = new sbyte[data.Length];
        for (long i = 0; i < data.Length; i++)
            qd[i] = (sbyte)Math.Clamp(MathF.Round(data[i] / scales[(int)(i / inner % channels)]), -127, 127);
        string qName = fresh(w.Name + "_int8"), sName = fresh(w.Name + "_scale"), zName = fresh(w.Name + "_zero_point"), value = fresh(w.Name + "_dequantized");
        var dq = new NodeProto { OpType = "DequantizeLinear", Name = fresh(w.Name + "_DequantizeLinear") };
        dq.Input.Add(new[] { qName, sName, zName });
        dq.Output.Add(value);
        dq.Attribute.Add(OnnxAttr.Int("axis", axis));
        return (new DqNode(dq, [OnnxTensors.FromInt8(qName, qd, dims), OnnxTensors.FromFloat(sName, scales, [channels]),
            OnnxTensors.FromInt8(zName, new sbyte[channels], [channels])]), value, scales);
    }

    private static (DqNode Node, string Value) QuantizeBias(TensorProto b, float inputScale, float[] weightScales, Func<string, string> fresh)
    {
        float[] data = OnnxTensors.ToFloat(b);
        var scales = weightScales.Select(s => inputScale * s).ToArray();
        var qd = new int[data.Length];
        for (int i = 0; i < data.Length; i++)
            qd[i] = (int)Math.Clamp(Math.Round((double)data[i] / scales[i]), int.MinValue + 1, int.MaxValue);
        string qName = fresh(b.Name + "_int32"), sName = fresh(b.Name + "_scale"), zName = fresh(b.Name + "_zero_point"), value = fresh(b.Name + "_dequantized");
        var dq = new NodeProto { OpType = "DequantizeLinear", Name = fresh(b.Name + "_DequantizeLinear") };
        dq.Input.Add(new[] { qName, sName, zName });
        dq.Output.Add(value);
        dq.Attribute.Add(OnnxAttr.Int("axis", 0));
        return (new DqNode(dq, [OnnxTensors.FromInt32(qName, qd, [data.Length]), OnnxTensors.FromFloat(sName, scales, [data.Length]),
            OnnxTensors.FromInt32(zName, new int[data.Length], [data.Length])]), value);
    }

    private static void LiftOpset(ModelProto m)
    {
        var ai = m.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")
            ?? throw new NotSupportedException("the model imports no default-domain opset");
        if (ai.Version >= 13) return;
        if (ai.Version < 9) throw new NotSupportedException($"default-domain opset {ai.Version} is too old to quantize (needs 13, or 9-12 with ops unchanged up to 13)");
        var changed = m.Graph.Node.Where(n => n.Domain is "" or "ai.onnx").Select(n => n.OpType).Where(t => !StableTo13.Contains(t)).Distinct().ToList();
        if (changed.Count > 0)
            throw new NotSupportedException($"default-domain opset {ai.Version} < 13 and the model uses ops whose meaning changed by opset 13 ({string.Join(", ", changed)}); re-export it at opset 13 or newer");
        ai.Version = 13;
        if (m.IrVersion < 7) m.IrVersion = 7;
    }

    private static void RemoveUnused(GraphProto g)
    {
        var used = g.Node.SelectMany(n => n.Input).Concat(g.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var drop = g.Initializer.Where(t => !used.Contains(t.Name)).ToList();
        foreach (var t in drop) g.Initializer.Remove(t);
        var dropNames = drop.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var v in g.Input.Where(v => dropNames.Contains(v.Name)).ToList()) g.Input.Remove(v);
    }

    private static void SetMetadata(ModelProto m, string key, string value)
    {
        foreach (var p in m.MetadataProps.Where(p => p.Key == key).ToList()) m.MetadataProps.Remove(p);
        m.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
    }
}
