using System.Globalization;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xcos.ML.Onnx.Proto;
using DataType = Xcos.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace Xcos.ML.Onnx;

/// <summary>Where a value of an ONNX graph comes from.</summary>
public enum OnnxValueKind
{
    /// <summary>A graph input that is not an initializer.</summary>
    Input,
    /// <summary>A stored weight (initializer).</summary>
    Initializer,
    /// <summary>An output of a node.</summary>
    NodeOutput,
}

/// <summary>One named value of a graph, with its element type and shape when known.</summary>
/// <param name="Name">Value name.</param>
/// <param name="Kind">Input, initializer or node output.</param>
/// <param name="ElementType">Element type, <see cref="DataType.Undefined"/> when unknown.</param>
/// <param name="Shape">Dims (-1 for a symbolic dim), or null when unknown.</param>
/// <param name="ProducerOpType">Op type of the producing node (node outputs only).</param>
/// <param name="NodeIndex">Index of the producing node in graph order, -1 for inputs and initializers.</param>
public sealed record OnnxValueInfo(string Name, OnnxValueKind Kind, DataType ElementType, long[]? Shape, string? ProducerOpType, int NodeIndex);

/// <summary>
/// An ONNX model read into memory for inspection and editing: list its values, read its weights, expose an
/// intermediate value as an extra graph output, find feature maps by shape, save it again.
/// Fields of the model this subset of the schema does not name are kept as they were.
/// </summary>
public sealed class OnnxModelFile
{
    private OnnxModelFile(ModelProto model, string source)
    {
        Model = model;
        Source = source;
    }

    /// <summary>The model (live: edits through this class change it).</summary>
    public ModelProto Model { get; }

    /// <summary>The file path the model came from, or "(bytes)".</summary>
    public string Source { get; }

    /// <summary>The model's main graph (nodes, initializers, inputs, outputs); edits change the model.</summary>
    public GraphProto Graph => Model.Graph;

    /// <summary>Reads a model from a .onnx file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable ONNX model; the message names the file.</exception>
    public static OnnxModelFile Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model file not found: {path}", path);
        return Parse(File.ReadAllBytes(path), path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    /// <summary>Reads a model from serialized bytes.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a readable ONNX model, or keep weights in an external file.</exception>
    public static OnnxModelFile Load(byte[] bytes) => Parse(bytes, "(bytes)", null);

    /// <summary>Wraps an existing model (e.g. from <see cref="OnnxGraphBuilder.Build"/>); edits change it.</summary>
    public static OnnxModelFile FromModel(ModelProto model) => new(model, "(model)");

    private static OnnxModelFile Parse(byte[] bytes, string source, string? folder)
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source}: not a valid ONNX model ({bytes.Length} bytes): protobuf parse failed: {e.Message}", e);
        }
        // Arbitrary bytes can parse as a message made only of unknown fields; a model needs an IR version and a graph.
        if (!model.HasIrVersion || model.IrVersion <= 0 || model.Graph is null)
            throw new InvalidDataException($"{source}: not a valid ONNX model ({bytes.Length} bytes): expected a ModelProto with ir_version and graph, found " +
                $"ir_version={(model.HasIrVersion ? model.IrVersion.ToString(CultureInfo.InvariantCulture) : "none")}, graph={(model.Graph is null ? "none" : "present")}");
        if (model.Graph.Node.Count == 0 && model.Graph.Output.Count == 0)
            throw new InvalidDataException($"{source}: not a valid ONNX model: the graph has no nodes and no outputs");
        OnnxExternalData.Check(model, folder, source);
        return new OnnxModelFile(model, source);
    }

    /// <summary>The model as ONNX protobuf bytes, as written to a .onnx file.</summary>
    public byte[] ToBytes() => Model.ToByteArray();

    /// <summary>Writes the model to <paramref name="path"/>.</summary>
    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    /// <summary>Names of the graph inputs that are not initializers (what a caller must feed).</summary>
    public IReadOnlyList<string> InputNames
    {
        get
        {
            var init = Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            return Graph.Input.Select(v => v.Name).Where(n => !init.Contains(n)).ToList();
        }
    }

    /// <summary>Names of the graph outputs.</summary>
    public IReadOnlyList<string> OutputNames => Graph.Output.Select(v => v.Name).ToList();

    /// <summary>
    /// Every value of the graph: inputs, initializers, then node outputs in graph (topological) order.
    /// Types and shapes come from inputs, outputs, <c>value_info</c> and initializer dims where present.
    /// </summary>
    public IReadOnlyList<OnnxValueInfo> ListValues()
    {
        var declared = DeclaredTypes();
        var list = new List<OnnxValueInfo>();
        var init = Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var v in Graph.Input.Where(v => !init.ContainsKey(v.Name)))
        {
            var (type, shape) = TypeAndShape(v);
            list.Add(new OnnxValueInfo(v.Name, OnnxValueKind.Input, type, shape, null, -1));
        }
        foreach (var t in Graph.Initializer)
            list.Add(new OnnxValueInfo(t.Name, OnnxValueKind.Initializer, (DataType)t.DataType, t.Dims.ToArray(), null, -1));
        for (int i = 0; i < Graph.Node.Count; i++)
        {
            var node = Graph.Node[i];
            foreach (var o in node.Output.Where(o => o.Length > 0))
            {
                var (type, shape) = declared.TryGetValue(o, out var d) ? d : (DataType.Undefined, null);
                list.Add(new OnnxValueInfo(o, OnnxValueKind.NodeOutput, type, shape, node.OpType, i));
            }
        }
        return list;
    }

    /// <summary>
    /// Makes the intermediate value <paramref name="valueName"/> an extra graph output. Its type and shape are
    /// copied from <c>value_info</c> when declared; otherwise the output is added untyped and ONNX Runtime infers it.
    /// Does nothing when it already is an output.
    /// </summary>
    /// <exception cref="ArgumentException">No input, initializer or node output has that name.</exception>
    public void AddOutput(string valueName)
    {
        if (Graph.Output.Any(o => o.Name == valueName)) return;
        bool exists = Graph.Node.Any(n => n.Output.Contains(valueName)) || Graph.Input.Any(v => v.Name == valueName)
                      || Graph.Initializer.Any(t => t.Name == valueName);
        if (!exists) throw new ArgumentException($"{Source}: the graph has no value named '{valueName}'", nameof(valueName));
        var declared = Graph.ValueInfo.FirstOrDefault(v => v.Name == valueName) ?? Graph.Input.FirstOrDefault(v => v.Name == valueName);
        Graph.Output.Add(declared is not null ? declared.Clone() : new ValueInfoProto { Name = valueName });
    }

    /// <summary>Reads the initializer <paramref name="name"/> as float32 values with its dims.</summary>
    /// <exception cref="KeyNotFoundException">No initializer (or Constant node output) has that name.</exception>
    public (float[] Data, long[] Shape) ReadInitializer(string name)
    {
        var t = FindConstant(name) ?? throw new KeyNotFoundException($"{Source}: no initializer named '{name}'");
        try { return (OnnxTensors.ToFloat(t), t.Dims.ToArray()); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{Source}: {e.Message}", e); }
    }

    /// <summary>All float initializers (FLOAT, DOUBLE, FLOAT16) as float32 arrays with their dims, by name.</summary>
    public IReadOnlyDictionary<string, (float[] Data, long[] Shape)> ReadFloatInitializers()
    {
        var result = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
        foreach (var t in Graph.Initializer)
        {
            var type = (DataType)t.DataType;
            if (type is DataType.Float or DataType.Double or DataType.Float16) result[t.Name] = ReadInitializer(t.Name);
        }
        return result;
    }

    /// <summary>
    /// Runs the model once in ONNX Runtime on float inputs and returns the named float outputs (every graph output when
    /// none is named) with their shapes; with <see cref="AddOutput"/> this reads any intermediate value.
    /// </summary>
    /// <exception cref="InvalidOperationException">ONNX Runtime refused the model or the inputs (the message names the model).</exception>
    public IReadOnlyDictionary<string, (float[] Data, long[] Shape)> Run(
        IReadOnlyDictionary<string, (float[] Data, long[] Shape)> inputs, params string[] outputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var names = inputs.Keys.ToList();
        var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(inputs[n].Data, inputs[n].Shape)).ToList();
        try
        {
            using var session = new InferenceSession(ToBytes());
            var outNames = outputs.Length > 0 ? outputs.ToList() : session.OutputNames.ToList();
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, names, values, outNames);
            var dict = new Dictionary<string, (float[] Data, long[] Shape)>(StringComparer.Ordinal);
            for (int i = 0; i < outNames.Count; i++)
                dict[outNames[i]] = (results[i].GetTensorDataAsSpan<float>().ToArray(), results[i].GetTensorTypeAndShape().Shape);
            return dict;
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"{Source}: ONNX Runtime could not run the model: {e.Message}", e);
        }
        finally { values.ForEach(v => v.Dispose()); }
    }

    /// <summary>
    /// Shapes and element types of every node output, found by running the model once in ONNX Runtime on a
    /// zero-filled input with every node output added as a graph output (the model itself is not changed).
    /// Symbolic input dims are 1 unless <paramref name="inputShapes"/> gives the full shape of that input.
    /// </summary>
    public IReadOnlyDictionary<string, (DataType ElementType, long[] Shape)> RunShapes(IReadOnlyDictionary<string, long[]>? inputShapes = null)
    {
        var probe = Model.Clone();
        var g = probe.Graph;
        var existing = g.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var node in g.Node)
            foreach (var o in node.Output.Where(o => o.Length > 0 && existing.Add(o)))
                g.Output.Add(new ValueInfoProto { Name = o });

        var init = g.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = new List<(string Name, OrtValue Value)>();
        var result = new Dictionary<string, (DataType, long[])>(StringComparer.Ordinal);
        try
        {
            using var session = new InferenceSession(probe.ToByteArray());
            foreach (var v in g.Input.Where(v => !init.Contains(v.Name)))
            {
                var (type, shape) = TypeAndShape(v);
                long[] dims = inputShapes is not null && inputShapes.TryGetValue(v.Name, out var given) ? given
                    : (shape ?? throw new InvalidDataException($"{Source}: input '{v.Name}' has no shape; pass its shape in inputShapes"))
                        .Select(d => d < 0 ? 1L : d).ToArray();
                inputs.Add((v.Name, ZeroTensor(type, dims, v.Name)));
            }
            var outputNames = session.OutputNames.ToList();
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToList(), inputs.Select(i => i.Value).ToList(), outputNames);
            for (int i = 0; i < outputNames.Count; i++)
            {
                var value = outputs[i];
                if (!value.IsTensor) continue;
                var info = value.GetTensorTypeAndShape();
                result[outputNames[i]] = (FromOrt(info.ElementDataType), info.Shape);
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"{Source}: ONNX Runtime could not run the model to find value shapes: {e.Message}", e);
        }
        finally
        {
            foreach (var i in inputs) i.Value.Dispose();
        }
        return result;
    }

    /// <summary>
    /// The last node output (in graph order) that is 4-D with spatial size <paramref name="height"/> x <paramref name="width"/>
    /// (default 7x7, the final feature map of a 112x112 face network). Shapes come from <c>value_info</c> when it
    /// declares one for every node output, otherwise from one ONNX Runtime run (<see cref="RunShapes"/>).
    /// </summary>
    /// <returns>The value, or null when no 4-D value has that spatial size.</returns>
    public OnnxValueInfo? FindLastFeatureMap(int height = 7, int width = 7, IReadOnlyDictionary<string, long[]>? inputShapes = null)
    {
        var values = ListValues().Where(v => v.Kind == OnnxValueKind.NodeOutput).ToList();
        if (values.Any(v => v.Shape is null))
        {
            var shapes = RunShapes(inputShapes);
            values = values.Select(v => shapes.TryGetValue(v.Name, out var s) ? v with { ElementType = s.ElementType, Shape = s.Shape } : v).ToList();
        }
        return values.LastOrDefault(v => v.Shape is { Length: 4 } s && s[2] == height && s[3] == width);
    }

    /// <summary>Declared (type, shape) of every value with a ValueInfoProto: value_info, inputs and outputs.</summary>
    private Dictionary<string, (DataType, long[]?)> DeclaredTypes()
    {
        var d = new Dictionary<string, (DataType, long[]?)>(StringComparer.Ordinal);
        foreach (var v in Graph.ValueInfo.Concat(Graph.Output).Concat(Graph.Input))
        {
            var ts = TypeAndShape(v);
            if (ts.Item2 is not null || !d.ContainsKey(v.Name)) d[v.Name] = ts;
        }
        return d;
    }

    private static (DataType, long[]?) TypeAndShape(ValueInfoProto v)
    {
        if (v.Type?.TensorType is not { } t) return (DataType.Undefined, null);
        long[]? shape = t.Shape is null ? null
            : t.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L).ToArray();
        return ((DataType)t.ElemType, shape);
    }

    private TensorProto? FindConstant(string name)
    {
        var t = Graph.Initializer.FirstOrDefault(i => i.Name == name);
        if (t is not null) return t;
        // Some exporters store weights as Constant nodes instead of initializers.
        var node = Graph.Node.FirstOrDefault(n => n.OpType == "Constant" && n.Output.Count == 1 && n.Output[0] == name);
        var value = node?.Attribute.FirstOrDefault(a => a.Name == "value" && a.T is not null)?.T;
        if (value is null) return null;
        var copy = value.Clone();
        copy.Name = name;
        return copy;
    }

    private OrtValue ZeroTensor(DataType type, long[] dims, string name)
    {
        long n = dims.Aggregate(1L, (a, b) => a * b);
        return type switch
        {
            DataType.Float => OrtValue.CreateTensorValueFromMemory(new float[n], dims),
            DataType.Double => OrtValue.CreateTensorValueFromMemory(new double[n], dims),
            DataType.Int64 => OrtValue.CreateTensorValueFromMemory(new long[n], dims),
            DataType.Int32 => OrtValue.CreateTensorValueFromMemory(new int[n], dims),
            DataType.Uint8 => OrtValue.CreateTensorValueFromMemory(new byte[n], dims),
            DataType.Int8 => OrtValue.CreateTensorValueFromMemory(new sbyte[n], dims),
            DataType.Bool => OrtValue.CreateTensorValueFromMemory(new bool[n], dims),
            _ => throw new NotSupportedException($"{Source}: input '{name}' has element type {type}; a probe input can be FLOAT, DOUBLE, INT64, INT32, UINT8, INT8 or BOOL"),
        };
    }

    private static DataType FromOrt(TensorElementType t) => t switch
    {
        TensorElementType.Float => DataType.Float,
        TensorElementType.Double => DataType.Double,
        TensorElementType.Int64 => DataType.Int64,
        TensorElementType.Int32 => DataType.Int32,
        TensorElementType.UInt8 => DataType.Uint8,
        TensorElementType.Int8 => DataType.Int8,
        TensorElementType.Bool => DataType.Bool,
        TensorElementType.Float16 => DataType.Float16,
        TensorElementType.Int16 => DataType.Int16,
        TensorElementType.UInt16 => DataType.Uint16,
        TensorElementType.UInt32 => DataType.Uint32,
        TensorElementType.UInt64 => DataType.Uint64,
        TensorElementType.String => DataType.String,
        TensorElementType.BFloat16 => DataType.Bfloat16,
        _ => DataType.Undefined,
    };
}
