using Google.Protobuf;
using Xcos.ML.Onnx.Proto;
using DataType = Xcos.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace Xcos.ML.Onnx;

/// <summary>
/// Builds an ONNX graph node by node: inputs and outputs with (symbolic batch) shapes, float/int64
/// initializers, operators of the default ONNX domain, unique value names. Every op helper returns the
/// name of the value it produces, so graphs read like the forward pass they encode.
/// </summary>
/// <remarks>
/// Targets opset <see cref="DefaultOpset"/> (17) and IR version <see cref="IrVersion"/> (8), which ONNX Runtime
/// 1.31 runs. In opset 17 ReduceSum takes its axes as a second input, while ReduceL2/ReduceMean/ReduceMax
/// still take an <c>axes</c> attribute (they move to an input only in opset 18); the helpers encode that split.
/// </remarks>
internal sealed class OnnxGraphBuilder
{
    /// <summary>The default-domain opset the helpers emit.</summary>
    public const int DefaultOpset = 17;

    /// <summary>The IR version written into the model (IR 8 goes with opsets up to 18).</summary>
    public const long IrVersion = 8;

    private readonly GraphProto _graph;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    /// <summary>Starts an empty graph.</summary>
    /// <param name="graphName">The graph's name (default "graph").</param>
    public OnnxGraphBuilder(string graphName = "graph")
    {
        _graph = new GraphProto { Name = graphName };
    }

    /// <summary>Name given to negative (symbolic) dimensions of inputs and outputs. Default "N".</summary>
    public string BatchDimName { get; set; } = "N";

    /// <summary>Key/value pairs written into the model's <c>metadata_props</c>.</summary>
    public IDictionary<string, string> Metadata { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The graph built so far (live, not a copy).</summary>
    public GraphProto Graph => _graph;

    /// <summary>Returns <paramref name="baseName"/>, or it with the lowest free <c>_k</c> suffix, and reserves it.</summary>
    public string UniqueName(string baseName)
    {
        if (_names.Add(baseName)) return baseName;
        _counters.TryGetValue(baseName, out int k);
        string name;
        do { name = $"{baseName}_{++k}"; } while (!_names.Add(name));
        _counters[baseName] = k;
        return name;
    }

    /// <summary>Adds a graph input. Negative dims become the symbolic dimension <see cref="BatchDimName"/>.</summary>
    /// <returns>The input's name (exactly <paramref name="name"/>; an existing value of that name is an error).</returns>
    public string AddInput(string name, long[] shape, DataType elementType = DataType.Float)
    {
        Reserve(name);
        _graph.Input.Add(ValueInfo(name, shape, elementType));
        return name;
    }

    /// <summary>
    /// Exposes <paramref name="value"/> as graph output <paramref name="outputName"/> (an Identity node renames it
    /// when the names differ). Negative dims become <see cref="BatchDimName"/>; <paramref name="shape"/> null leaves the shape open.
    /// </summary>
    public string AddOutput(string value, string outputName, long[]? shape, DataType elementType = DataType.Float)
    {
        if (value != outputName)
        {
            Reserve(outputName);
            AddNode("Identity", [value], [outputName]);
        }
        _graph.Output.Add(ValueInfo(outputName, shape, elementType));
        return outputName;
    }

    /// <summary>Adds a FLOAT initializer named <paramref name="baseName"/> (made unique).</summary>
    public string Initializer(string baseName, float[] data, long[] shape)
    {
        string name = UniqueName(baseName);
        _graph.Initializer.Add(OnnxTensors.FromFloat(name, data, shape));
        return name;
    }

    /// <summary>Adds an INT64 initializer named <paramref name="baseName"/> (made unique).</summary>
    public string InitializerInt64(string baseName, long[] data, long[] shape)
    {
        string name = UniqueName(baseName);
        _graph.Initializer.Add(OnnxTensors.FromInt64(name, data, shape));
        return name;
    }

    /// <summary>A FLOAT scalar initializer (shape []).</summary>
    public string Scalar(float value, string baseName = "const") => Initializer(baseName, [value], []);

    /// <summary>An INT64 1-D initializer (shape [n]), e.g. axes or a target shape.</summary>
    public string Int64s(string baseName, params long[] values) => InitializerInt64(baseName, values, [values.Length]);

    /// <summary>
    /// Adds a node of the default domain with the given output names (which must be new) and returns the node.
    /// An empty input name marks an omitted optional input.
    /// </summary>
    public NodeProto AddNode(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = UniqueName("node_" + opType) };
        node.Input.AddRange(inputs);
        foreach (var o in outputs) node.Output.Add(o);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return node;
    }

    /// <summary>Adds a single-output node whose output gets a fresh name derived from <paramref name="outputBase"/> (default: the op type).</summary>
    public string Op(string opType, string[] inputs, string? outputBase = null, params AttributeProto[] attributes)
    {
        string output = UniqueName(outputBase ?? opType);
        AddNode(opType, inputs, [output], attributes);
        return output;
    }

    // ---- operator helpers (opset 17 semantics) ----

    /// <summary>2-D convolution; <paramref name="bias"/> null omits it. Square kernel read from the weight is not needed: ONNX infers it.</summary>
    public string Conv(string x, string weight, string? bias, int stride = 1, int pad = 0, int group = 1, string? name = null)
    {
        var inputs = bias is null ? new[] { x, weight } : new[] { x, weight, bias };
        return Op("Conv", inputs, name, OnnxAttr.Ints("strides", stride, stride), OnnxAttr.Ints("pads", pad, pad, pad, pad),
            OnnxAttr.Ints("dilations", 1, 1), OnnxAttr.Int("group", group));
    }

    /// <summary>Inference-mode batch normalisation over axis 1.</summary>
    public string BatchNormalization(string x, string scale, string bias, string mean, string variance, float epsilon = 1e-5f, string? name = null) =>
        Op("BatchNormalization", [x, scale, bias, mean, variance], name, OnnxAttr.Float("epsilon", epsilon));

    /// <summary>PRelu; the slope broadcasts unidirectionally to x (per channel of NCHW: shape [C,1,1]).</summary>
    public string PRelu(string x, string slope, string? name = null) => Op("PRelu", [x, slope], name);

    /// <summary>Elementwise x + y (numpy broadcasting).</summary>
    public string Add(string x, string y, string? name = null) => Op("Add", [x, y], name);
    /// <summary>Elementwise x - y.</summary>
    public string Sub(string x, string y, string? name = null) => Op("Sub", [x, y], name);
    /// <summary>Elementwise x * y.</summary>
    public string Mul(string x, string y, string? name = null) => Op("Mul", [x, y], name);
    /// <summary>Elementwise x / y.</summary>
    public string Div(string x, string y, string? name = null) => Op("Div", [x, y], name);
    /// <summary>Elementwise maximum of the inputs.</summary>
    public string Max(string x, string y, string? name = null) => Op("Max", [x, y], name);
    /// <summary>Adds a Sqrt node: the elementwise square root of <paramref name="x"/>; returns the output's name.</summary>
    public string Sqrt(string x, string? name = null) => Op("Sqrt", [x], name);
    /// <summary>Adds a Relu node: max(x, 0) elementwise; returns the output's name.</summary>
    public string Relu(string x, string? name = null) => Op("Relu", [x], name);
    /// <summary>1 / (1 + exp(-x)).</summary>
    public string Sigmoid(string x, string? name = null) => Op("Sigmoid", [x], name);
    /// <summary>Renames a value (a new value equal to x).</summary>
    public string Identity(string x, string? name = null) => Op("Identity", [x], name);

    /// <summary>Clamps x to [min, max]; a null bound is omitted (Clip-11+ takes bounds as inputs).</summary>
    public string Clip(string x, float? min, float? max, string? name = null)
    {
        string lo = min is null ? "" : Scalar(min.Value, "clip_min");
        string hi = max is null ? "" : Scalar(max.Value, "clip_max");
        string[] inputs = max is not null ? [x, lo, hi] : min is not null ? [x, lo] : [x];
        return Op("Clip", inputs, name);
    }

    /// <summary>Max pooling with a square kernel, no padding unless given.</summary>
    public string MaxPool(string x, int kernel, int stride, int pad = 0, string? name = null) =>
        Op("MaxPool", [x], name, OnnxAttr.Ints("kernel_shape", kernel, kernel), OnnxAttr.Ints("strides", stride, stride),
            OnnxAttr.Ints("pads", pad, pad, pad, pad));

    /// <summary>Mean over all spatial positions: [N,C,H,W] to [N,C,1,1].</summary>
    public string GlobalAveragePool(string x, string? name = null) => Op("GlobalAveragePool", [x], name);

    /// <summary>Flattens to 2-D: dims before <paramref name="axis"/> form the rows.</summary>
    public string Flatten(string x, int axis = 1, string? name = null) => Op("Flatten", [x], name, OnnxAttr.Int("axis", axis));

    /// <summary>Reshape to <paramref name="shape"/> (0 copies the input dim, -1 is inferred).</summary>
    public string Reshape(string x, long[] shape, string? name = null) => Op("Reshape", [x, Int64s("shape", shape)], name);

    /// <summary>Y = alpha·A·op(B) + beta·C; with <paramref name="transB"/> B is a [out,in] weight as in a linear layer.</summary>
    public string Gemm(string a, string b, string? c, bool transB = true, string? name = null)
    {
        var inputs = c is null ? new[] { a, b } : new[] { a, b, c };
        return Op("Gemm", inputs, name, OnnxAttr.Int("transB", transB ? 1 : 0));
    }

    /// <summary>Matrix product with numpy broadcasting.</summary>
    public string MatMul(string a, string b, string? name = null) => Op("MatMul", [a, b], name);

    /// <summary>Sum over <paramref name="axes"/>; opset 13+ takes the axes as an INT64 input.</summary>
    public string ReduceSum(string x, long[] axes, bool keepDims, string? name = null) =>
        Op("ReduceSum", [x, Int64s("axes", axes)], name, OnnxAttr.Int("keepdims", keepDims ? 1 : 0));

    /// <summary>Euclidean norm over <paramref name="axes"/>; before opset 18 the axes are an attribute.</summary>
    public string ReduceL2(string x, long[] axes, bool keepDims, string? name = null) =>
        Op("ReduceL2", [x], name, OnnxAttr.Ints("axes", axes), OnnxAttr.Int("keepdims", keepDims ? 1 : 0));

    /// <summary>Mean over <paramref name="axes"/>; before opset 18 the axes are an attribute.</summary>
    public string ReduceMean(string x, long[] axes, bool keepDims, string? name = null) =>
        Op("ReduceMean", [x], name, OnnxAttr.Ints("axes", axes), OnnxAttr.Int("keepdims", keepDims ? 1 : 0));

    /// <summary>Softmax along one axis (opset 13+: only that axis is normalised).</summary>
    public string Softmax(string x, int axis, string? name = null) => Op("Softmax", [x], name, OnnxAttr.Int("axis", axis));

    /// <summary>Adds a Concat node joining <paramref name="inputs"/> along <paramref name="axis"/>; returns the output's name.</summary>
    public string Concat(int axis, string[] inputs, string? name = null) => Op("Concat", inputs, name, OnnxAttr.Int("axis", axis));

    /// <summary>x / max(‖x‖₂ over <paramref name="axis"/>, <paramref name="minNorm"/>); minNorm 0 divides by the plain norm.</summary>
    public string L2Normalize(string x, int axis, float minNorm, string? name = null)
    {
        string norm = ReduceL2(x, [axis], keepDims: true);
        if (minNorm > 0) norm = Max(norm, Scalar(minNorm, "min_norm"));
        return Div(x, norm, name);
    }

    /// <summary>The finished model: IR <see cref="IrVersion"/>, default-domain opset <see cref="DefaultOpset"/>.</summary>
    public ModelProto Build(string producerName = "Xcos.ML", string producerVersion = "1.0", string docString = "")
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = producerName,
            ProducerVersion = producerVersion,
            DocString = docString,
            Graph = _graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = DefaultOpset });
        foreach (var (k, v) in Metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model;
    }

    /// <summary>The serialized model bytes.</summary>
    public byte[] ToBytes() => Build().ToByteArray();

    /// <summary>Writes the model to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    internal static ValueInfoProto ValueInfo(string name, long[]? shape, DataType elementType, string batchDimName = "N")
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)elementType };
        if (shape is not null)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (long d in shape)
                tensor.Shape.Dim.Add(d >= 0 ? new TensorShapeProto.Types.Dimension { DimValue = d }
                                            : new TensorShapeProto.Types.Dimension { DimParam = batchDimName });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private ValueInfoProto ValueInfo(string name, long[]? shape, DataType elementType) => ValueInfo(name, shape, elementType, BatchDimName);

    private void Reserve(string name)
    {
        if (!_names.Add(name)) throw new ArgumentException($"value name '{name}' is already used in graph '{_graph.Name}'", nameof(name));
    }
}
