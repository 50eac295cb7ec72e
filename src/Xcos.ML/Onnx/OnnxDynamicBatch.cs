using Xcos.ML.Onnx.Proto;
using DataType = Xcos.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace Xcos.ML.Onnx;

/// <summary>
/// Makes a model exported at a fixed batch (e.g. <c>[1,3,112,112]</c>) take any batch: the first dimension of its data
/// inputs, outputs and declared values becomes the symbolic <c>N</c>, and every Reshape whose constant target shape
/// starts with that fixed batch gets 0 there instead (ONNX's "copy this dimension from the input"), so the batch
/// flows through it. Other batch-dependent shape arithmetic (Expand, Tile, ConstantOfShape on a constant batch) is
/// not rewritten: check the result on two inputs (<see cref="FaceModels.OnnxFaceEmbedder"/> runs two faces through the result before using it).
/// </summary>
public static class OnnxDynamicBatch
{
    /// <summary>Name of the symbolic batch dimension written into the model.</summary>
    public const string BatchDimName = "N";

    /// <summary>The fixed batch of the model's first data input, or null when its first dimension is already symbolic.</summary>
    public static long? FixedBatch(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var inits = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var input = model.Graph.Input.FirstOrDefault(v => !inits.Contains(v.Name));
        var dims = input?.Type?.TensorType?.Shape?.Dim;
        return dims is { Count: > 0 } && dims[0].HasDimValue && dims[0].DimValue > 0 ? dims[0].DimValue : null;
    }

    /// <summary>Rewrites <paramref name="model"/> in place; returns the number of Reshape targets changed, or -1 when the batch was dynamic already.</summary>
    public static int Rewrite(ModelProto model)
    {
        if (FixedBatch(model) is not long batch) return -1;
        var graph = model.Graph;
        var inits = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var v in graph.Input.Where(v => !inits.ContainsKey(v.Name)).Concat(graph.Output).Concat(graph.ValueInfo))
        {
            var dims = v.Type?.TensorType?.Shape?.Dim;
            if (dims is { Count: > 0 } && dims[0].HasDimValue && dims[0].DimValue == batch)
                dims[0] = new TensorShapeProto.Types.Dimension { DimParam = BatchDimName };
        }
        var constants = graph.Node.Where(n => n.OpType == "Constant" && n.Output.Count == 1).ToDictionary(n => n.Output[0], StringComparer.Ordinal);
        var uses = graph.Node.SelectMany(n => n.Input).GroupBy(x => x, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        int changed = 0;
        foreach (var node in graph.Node.Where(n => n.OpType == "Reshape" && n.Input.Count == 2).ToList())
        {
            if (node.Attribute.Any(a => a.Name == "allowzero" && a.I != 0)) continue;   // there 0 means a zero-sized dimension
            string name = node.Input[1];
            TensorProto? shape = inits.TryGetValue(name, out var init) ? init
                : constants.TryGetValue(name, out var c) ? c.Attribute.FirstOrDefault(a => a.Name == "value")?.T : null;
            if (shape is null || shape.DataType != (int)DataType.Int64) continue;
            var target = OnnxTensors.ToInt64(shape);
            if (target.Length == 0 || target[0] != batch) continue;
            target[0] = 0;
            // A target shared with another node gets a copy of its own, so only this Reshape changes.
            string fresh = uses.GetValueOrDefault(name) > 1 ? Fresh(graph, name + "_dynamic_batch") : name;
            var tensor = OnnxTensors.FromInt64(fresh, target, [target.Length]);
            if (fresh != name)
            {
                graph.Initializer.Add(tensor);
                node.Input[1] = fresh;
            }
            else if (init is not null)
            {
                graph.Initializer[graph.Initializer.IndexOf(init)] = tensor;
                inits[name] = tensor;
            }
            else
            {
                // A Constant node used by this Reshape alone: its value changes in place.
                constants[name].Attribute.First(a => a.Name == "value").T = tensor;
            }
            changed++;
        }
        return changed;
    }

    private static string Fresh(GraphProto graph, string name)
    {
        var taken = graph.Initializer.Select(t => t.Name).Concat(graph.Node.SelectMany(n => n.Output)).Concat(graph.Input.Select(v => v.Name)).ToHashSet(StringComparer.Ordinal);
        string candidate = name;
        for (int k = 1; taken.Contains(candidate); k++) candidate = $"{name}_{k}";
        return candidate;
    }
}
