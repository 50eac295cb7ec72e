using System.Globalization;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.MLNet;

/// <summary>One graph output an ML.NET stage keeps, and the column it becomes.</summary>
/// <param name="OnnxName">Output name in the source model.</param>
/// <param name="ColumnName">Column name (and graph output name in the adapted model).</param>
internal sealed record OnnxOutputSpec(string OnnxName, string ColumnName);

/// <summary>A model adapted for ApplyOnnxModel, with the value count of each input column.</summary>
internal sealed record AdaptedOnnxModel(byte[] Bytes, IReadOnlyDictionary<string, (long Count, string Shape)> InputSizes);

/// <summary>
/// Adapts an ONNX model to one ML.NET ApplyOnnxModel stage: graph inputs and outputs take the user's column
/// names (ApplyOnnxModel binds columns by ONNX value name, so no CopyColumns stages or leftover columns are
/// needed), the batch dimension is hidden from ML.NET (one row at a time: columns hold a row's tensor without it, and Reshape nodes put the batch of 1 back inside the graph), and
/// nodes and weights that no kept output needs are removed, so the saved .zip holds only what runs.
/// </summary>
internal static class XcosPipelineOnnx
{
    /// <summary>Value names that <see cref="WithCosine"/> adds to a pair head for the target embeddings.</summary>
    public const string Target1Input = "target1", Target2Input = "target2", TargetCosineOutput = "target_cosine";

    /// <summary>
    /// A copy of <paramref name="model"/> with two more inputs [N, <paramref name="dims"/>] and an output [N], their cosine
    /// (dot product over the product of norms, at least 1e-12), so a pair's every number comes from one ONNX stage.
    /// </summary>
    public static ModelProto WithCosine(ModelProto model, string input1, string input2, long dims, string output)
    {
        var m = model.Clone();
        var g = m.Graph;
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in g.Node) { used.UnionWith(n.Input); used.UnionWith(n.Output); }
        used.UnionWith(g.Initializer.Select(t => t.Name));
        used.UnionWith(g.Input.Select(v => v.Name));
        foreach (var name in new[] { input1, input2, output })
            if (used.Contains(name)) throw new ArgumentException($"the model already has a value named '{name}'");
        foreach (var name in new[] { input1, input2 }) g.Input.Add(FloatInfo(name, -1, dims));
        string axes = Fresh(used, "xcos_cos_axes");
        var t = new TensorProto { Name = axes, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(1);
        t.Int64Data.Add(1);
        g.Initializer.Add(t);
        string eps = Fresh(used, "xcos_cos_eps");
        var e = new TensorProto { Name = eps, DataType = (int)TensorProto.Types.DataType.Float };
        e.FloatData.Add(1e-12f);
        g.Initializer.Add(e);
        string Op(string op, params string[] inputs)
        {
            string outName = Fresh(used, "xcos_cos_" + op.ToLowerInvariant());
            var n = new NodeProto { OpType = op, Name = outName };
            n.Input.AddRange(inputs);
            n.Output.Add(outName);
            if (op == "ReduceSum") n.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
            g.Node.Add(n);
            return outName;
        }
        string dot = Op("ReduceSum", Op("Mul", input1, input2), axes);
        string n1 = Op("Sqrt", Op("ReduceSum", Op("Mul", input1, input1), axes));
        string n2 = Op("Sqrt", Op("ReduceSum", Op("Mul", input2, input2), axes));
        string cos = Op("Div", dot, Op("Max", Op("Mul", n1, n2), eps));
        var id = new NodeProto { OpType = "Identity", Name = Fresh(used, "xcos_cos_out") };
        id.Input.Add(cos);
        id.Output.Add(output);
        g.Node.Add(id);
        g.Output.Add(FloatInfo(output, -1));
        return m;
    }

    private static ValueInfoProto FloatInfo(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }

    /// <summary>The name of value <paramref name="name"/> of face <paramref name="face"/> in a <see cref="Twin"/> model.</summary>
    public static string TwinName(string name, string face) => name + "__face" + face;

    /// <summary>
    /// A model that runs <paramref name="model"/> once per face: every node and data value is copied per face (named by
    /// <see cref="TwinName"/>), while the initializers (the weights) are shared, so the file holds them once.
    /// </summary>
    /// <exception cref="NotSupportedException">The graph has subgraphs (If/Loop), whose outer references cannot be renamed safely.</exception>
    public static ModelProto Twin(ModelProto model, IReadOnlyList<string> faces)
    {
        var source = model.Graph;
        if (source.Node.Any(n => n.Attribute.Any(a => a.G != null || a.Graphs.Count > 0)))
            throw new NotSupportedException("a model with subgraphs (If/Loop) cannot be shared between two faces");
        var m = model.Clone();
        var g = m.Graph;
        var weights = source.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        string Map(string v, string f) => v.Length == 0 || weights.Contains(v) ? v : TwinName(v, f);
        g.Node.Clear();
        g.Input.Clear();
        g.Output.Clear();
        g.ValueInfo.Clear();
        foreach (var f in faces)
        {
            foreach (var n in source.Node)
            {
                var c = n.Clone();
                c.Name = n.Name.Length == 0 ? "" : TwinName(n.Name, f);
                for (int i = 0; i < c.Input.Count; i++) c.Input[i] = Map(c.Input[i], f);
                for (int i = 0; i < c.Output.Count; i++) c.Output[i] = Map(c.Output[i], f);
                g.Node.Add(c);
            }
            foreach (var v in source.Input.Where(v => !weights.Contains(v.Name))) { var c = v.Clone(); c.Name = TwinName(v.Name, f); g.Input.Add(c); }
            foreach (var v in source.Output) { var c = v.Clone(); c.Name = Map(v.Name, f); g.Output.Add(c); }
            foreach (var v in source.ValueInfo) { var c = v.Clone(); c.Name = Map(v.Name, f); g.ValueInfo.Add(c); }
        }
        foreach (var v in source.Input.Where(v => weights.Contains(v.Name))) g.Input.Add(v.Clone());
        return m;
    }

    /// <summary>Reads a model from bytes or a file; exactly one must be given.</summary>
    public static ModelProto Load(byte[]? bytes, string? path, string what)
    {
        if ((bytes == null) == (path == null))
            throw new ArgumentException($"{what}: give exactly one of the ONNX model bytes, the ONNX model path or the weights");
        return bytes != null ? OnnxModelFile.Load(bytes).Model : OnnxModelFile.Load(path!).Model;
    }

    /// <summary>Names of the graph inputs that are not initializers.</summary>
    public static IReadOnlyList<string> DataInputs(ModelProto model)
    {
        var init = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        return model.Graph.Input.Select(v => v.Name).Where(n => !init.Contains(n)).ToList();
    }

    /// <summary>Names of the graph outputs.</summary>
    public static IReadOnlyList<string> Outputs(ModelProto model) => model.Graph.Output.Select(v => v.Name).ToList();

    /// <summary>Builds the adapted model (see the class remarks).</summary>
    /// <param name="source">Model to adapt; not modified.</param>
    /// <param name="inputs">Every data input of the model, mapped to its column name.</param>
    /// <param name="outputs">Outputs to keep, in order.</param>
    /// <param name="what">Model description for error messages.</param>
    /// <exception cref="ArgumentException">Duplicate column names, or a column name that clashes with an inner value of the graph.</exception>
    /// <exception cref="InvalidDataException">The model lacks a named input or output, or needs an input that is not fed.</exception>
    public static AdaptedOnnxModel Adapt(ModelProto source, IReadOnlyDictionary<string, string> inputs, IReadOnlyList<OnnxOutputSpec> outputs, string what)
    {
        var model = source.Clone();
        var g = model.Graph;
        var dataInputs = DataInputs(model);
        foreach (var name in inputs.Keys)
            if (!dataInputs.Contains(name))
                throw new InvalidDataException($"{what}: the ONNX model has no input '{name}' (inputs: {string.Join(", ", dataInputs)})");
        foreach (var name in dataInputs)
            if (!inputs.ContainsKey(name))
                throw new InvalidDataException($"{what}: the ONNX model needs input '{name}', which this transform does not feed");
        var graphOutputs = g.Output.ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var o in outputs)
            if (!graphOutputs.ContainsKey(o.OnnxName))
                throw new InvalidDataException($"{what}: the ONNX model has no output '{o.OnnxName}' (outputs: {string.Join(", ", graphOutputs.Keys)})");
        var columns = inputs.Values.Concat(outputs.Select(o => o.ColumnName)).ToList();
        var duplicate = columns.GroupBy(c => c, StringComparer.Ordinal).FirstOrDefault(x => x.Count() > 1);
        if (duplicate != null)
            throw new ArgumentException($"{what}: column name '{duplicate.Key}' is used twice; every input and output column needs its own name");

        Prune(g, outputs.Select(o => o.OnnxName));

        // Every name the graph uses, so a column name cannot capture an inner value.
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in g.Node) { used.UnionWith(n.Input); used.UnionWith(n.Output); }
        used.UnionWith(g.Initializer.Select(t => t.Name));
        used.UnionWith(g.Input.Select(v => v.Name));
        used.Remove("");

        var sizes = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        var reshapes = new List<NodeProto>();
        foreach (var vi in g.Input.Where(v => inputs.ContainsKey(v.Name)).ToList())
        {
            string column = inputs[vi.Name];
            if (column != vi.Name && used.Contains(column))
                throw new ArgumentException($"{what}: column name '{column}' clashes with an inner value of the ONNX graph; choose another name");
            var dims = FixBatch(vi, what);
            sizes[column] = (dims.Aggregate(1L, (a, b) => a * b), "[" + string.Join(",", dims.Skip(1)) + "]");
            if (dims.Length >= 2)
            {
                // The column is the row's tensor without the batch dimension; a Reshape puts the batch of 1 back.
                string inner = Fresh(used, "xcos_mlnet_batched_" + column);
                Rename(g, vi.Name, inner);
                used.Add(column);
                reshapes.Add(ReshapeNode(g, column, inner, dims, used));
                vi.Name = column;
                DropBatch(vi);
            }
            else if (column != vi.Name)
            {
                Rename(g, vi.Name, column);
                used.Add(column);
                vi.Name = column;
            }
        }
        for (int i = reshapes.Count - 1; i >= 0; i--) g.Node.Insert(0, reshapes[i]);

        g.Output.Clear();
        foreach (var o in outputs)
        {
            var info = graphOutputs[o.OnnxName].Clone();
            var dims = FixBatch(info, what);
            // Rank-1 outputs ([1]) stay vectors of one value: ML.NET 5.0.1 fails on rank-0 outputs.
            bool unbatch = dims.Length >= 2;
            if (o.ColumnName != o.OnnxName || unbatch)
            {
                if (used.Contains(o.ColumnName))
                    throw new ArgumentException($"{what}: column name '{o.ColumnName}' clashes with an inner value of the ONNX graph; choose another name");
                used.Add(o.ColumnName);
                g.Node.Add(unbatch ? ReshapeNode(g, o.OnnxName, o.ColumnName, dims[1..], used) : Node("Identity", [o.OnnxName], o.ColumnName, used));
            }
            info.Name = o.ColumnName;
            if (unbatch) DropBatch(info);
            g.Output.Add(info);
        }
        return new AdaptedOnnxModel(model.ToByteArray(), sizes);
    }

    /// <summary>Keeps only the nodes, initializers and value infos that the named outputs depend on.</summary>
    private static void Prune(GraphProto g, IEnumerable<string> keep)
    {
        var needed = new HashSet<string>(keep, StringComparer.Ordinal);
        var originalInits = g.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var kept = new List<NodeProto>();
        for (int i = g.Node.Count - 1; i >= 0; i--)
        {
            var n = g.Node[i];
            if (!n.Output.Any(needed.Contains)) continue;
            kept.Add(n);
            needed.UnionWith(n.Input.Where(s => s.Length > 0));
            // Subgraphs (If/Loop bodies) may read outer values by name.
            foreach (var a in n.Attribute) foreach (var sub in a.Graphs.Append(a.G).Where(x => x != null)) Uses(sub, needed);
        }
        kept.Reverse();
        g.Node.Clear();
        g.Node.AddRange(kept);
        var inits = g.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        g.Initializer.Clear();
        g.Initializer.AddRange(inits);
        var infos = g.ValueInfo.Where(v => needed.Contains(v.Name)).ToList();
        g.ValueInfo.Clear();
        g.ValueInfo.AddRange(infos);
        // Data inputs stay (ML.NET feeds them); initializer-backed inputs go with their initializer.
        var graphInputs = g.Input.Where(v => !originalInits.Contains(v.Name) || needed.Contains(v.Name)).ToList();
        g.Input.Clear();
        g.Input.AddRange(graphInputs);
    }

    private static void Uses(GraphProto sub, HashSet<string> needed)
    {
        foreach (var n in sub.Node)
        {
            needed.UnionWith(n.Input.Where(s => s.Length > 0));
            foreach (var a in n.Attribute) foreach (var s in a.Graphs.Append(a.G).Where(x => x != null)) Uses(s, needed);
        }
    }

    private static void Rename(GraphProto g, string from, string to)
    {
        foreach (var n in g.Node)
        {
            for (int i = 0; i < n.Input.Count; i++) if (n.Input[i] == from) n.Input[i] = to;
            for (int i = 0; i < n.Output.Count; i++) if (n.Output[i] == from) n.Output[i] = to;
            foreach (var a in n.Attribute) foreach (var sub in a.Graphs.Append(a.G).Where(x => x != null)) Rename(sub, from, to);
        }
        foreach (var v in g.ValueInfo) if (v.Name == from) v.Name = to;
    }

    private static string Fresh(HashSet<string> used, string baseName)
    {
        string name = baseName;
        for (int i = 1; used.Contains(name); i++) name = baseName + "_" + i.ToString(CultureInfo.InvariantCulture);
        used.Add(name);
        return name;
    }

    private static NodeProto Node(string op, string[] inputs, string output, HashSet<string> used)
    {
        var n = new NodeProto { OpType = op, Name = Fresh(used, "xcos_mlnet_" + output) };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }

    // A Reshape of `from` to `shape` as `to`, with its shape constant added to the graph.
    private static NodeProto ReshapeNode(GraphProto g, string from, string to, long[] shape, HashSet<string> used)
    {
        string name = Fresh(used, "xcos_mlnet_shape_" + to);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(shape.Length);
        t.Int64Data.AddRange(shape);
        g.Initializer.Add(t);
        var n = new NodeProto { OpType = "Reshape", Name = Fresh(used, "xcos_mlnet_reshape_" + to) };
        n.Input.Add(from);
        n.Input.Add(name);
        n.Output.Add(to);
        return n;
    }

    private static void DropBatch(ValueInfoProto v) => v.Type.TensorType.Shape.Dim.RemoveAt(0);

    /// <summary>Sets a symbolic or unknown leading dim to 1 and returns the dims; other dims must be known.</summary>
    private static long[] FixBatch(ValueInfoProto v, string what)
    {
        var shape = v.Type?.TensorType?.Shape
            ?? throw new InvalidDataException($"{what}: ONNX value '{v.Name}' has no declared shape; ML.NET needs fixed sizes");
        var dims = new long[shape.Dim.Count];
        for (int i = 0; i < dims.Length; i++)
        {
            var d = shape.Dim[i];
            bool known = d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0;
            if (!known && i == 0) shape.Dim[i] = new TensorShapeProto.Types.Dimension { DimValue = 1 };
            else if (!known)
                throw new InvalidDataException($"{what}: ONNX value '{v.Name}' has an unknown dimension {i}; only the batch dimension (0) may be symbolic");
            dims[i] = shape.Dim[i].DimValue;
        }
        return dims;
    }
}

/// <summary>Input column checks with messages that name the column and the expected type.</summary>
internal static class XcosPipelineColumns
{
    /// <summary>Checks a column of a data schema against a known-size Single vector.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Missing, or not a vector of <paramref name="count"/> Single.</exception>
    public static void CheckVector(DataViewSchema schema, string role, string name, long count, string meaning)
    {
        var col = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' not found; expected a vector of {count} Single ({meaning})");
        if (col.Type is not VectorDataViewType v || v.ItemType != NumberDataViewType.Single || v.Size != count)
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' has type {col.Type}; expected a vector of {count} Single ({meaning})");
    }

    /// <summary>Checks a column of a schema shape (which has no vector sizes) against a fixed-size Single vector.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Missing, or not a fixed-size vector of Single.</exception>
    public static void CheckVector(SchemaShape schema, string role, string name, long count, string meaning)
    {
        if (!TryFind(schema, name, out var col))
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' not found; expected a vector of {count} Single ({meaning})");
        if (col.Kind != SchemaShape.Column.VectorKind.Vector || col.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' has type {Describe(col)}; expected a vector of {count} Single ({meaning})");
    }

    /// <summary>Whether a column of this name exists.</summary>
    public static bool Has(DataViewSchema schema, string? name) => name != null && schema.GetColumnOrNull(name) != null;

    /// <inheritdoc cref="Has(DataViewSchema, string?)"/>
    public static bool Has(SchemaShape schema, string? name) => name != null && TryFind(schema, name, out _);

    /// <summary>Checks a scalar column of the given type.</summary>
    public static void CheckScalar(DataViewSchema schema, string role, string name, DataViewType type)
    {
        var col = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' not found; expected a scalar {type}");
        if (col.Type != type)
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' has type {col.Type}; expected a scalar {type}");
    }

    /// <inheritdoc cref="CheckScalar(DataViewSchema, string, string, DataViewType)"/>
    public static void CheckScalar(SchemaShape schema, string role, string name, DataViewType type)
    {
        if (!TryFind(schema, name, out var col))
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' not found; expected a scalar {type}");
        if (col.Kind != SchemaShape.Column.VectorKind.Scalar || col.ItemType != type)
            throw new ArgumentOutOfRangeException(nameof(schema), $"{role} column '{name}' has type {Describe(col)}; expected a scalar {type}");
    }

    // Later columns hide earlier ones of the same name, as in a DataViewSchema.
    private static bool TryFind(SchemaShape schema, string name, out SchemaShape.Column column)
    {
        column = schema.LastOrDefault(c => c.Name == name);
        return column.Name != null;
    }

    private static string Describe(SchemaShape.Column c) => c.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => c.ItemType.ToString() ?? "?",
        SchemaShape.Column.VectorKind.Vector => $"Vector<{c.ItemType}>",
        _ => $"VarVector<{c.ItemType}>",
    };
}
