using Xcos.ML.Data;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Onnx;

/// <summary>
/// ONNX tensors may keep their bytes in another file ("external data", a path relative to the model), which ONNX
/// Runtime opens when it loads the model: a crafted model could read any file (absolute paths are refused by ONNX
/// Runtime, relative ones such as ../../etc/x are not). Every model this project parses goes through
/// <see cref="Check(ModelProto, string?, string)"/>: external data is allowed only inside the model's own folder, and never for a model read from
/// bytes (a .zip entry, an edited model), whose folder is wherever the loader happens to write it.
/// </summary>
internal static class OnnxExternalData
{
    /// <summary>Refuses external data outside <paramref name="modelFolder"/> (any external data when it is null).</summary>
    /// <exception cref="InvalidDataException">A tensor's external file is not inside the model's folder; the message names the tensor and the file.</exception>
    public static void Check(ModelProto model, string? modelFolder, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Graph is not null) Check(model.Graph, modelFolder, source);
    }

    private static void Check(GraphProto graph, string? folder, string source)
    {
        foreach (var t in graph.Initializer) Check(t, folder, source);
        foreach (var s in graph.SparseInitializer)
        {
            if (s.Values is not null) Check(s.Values, folder, source);
            if (s.Indices is not null) Check(s.Indices, folder, source);
        }
        foreach (var node in graph.Node)
            foreach (var a in node.Attribute)
            {
                if (a.T is not null) Check(a.T, folder, source);
                foreach (var t in a.Tensors) Check(t, folder, source);
                if (a.G is not null) Check(a.G, folder, source);
                foreach (var g in a.Graphs) Check(g, folder, source);
            }
    }

    private static void Check(TensorProto t, string? folder, string source)
    {
        if (t.DataLocation != TensorProto.Types.DataLocation.External && t.ExternalData.Count == 0) return;
        var location = t.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? "";
        if (folder is null)
            throw new InvalidDataException($"{source}: tensor '{t.Name}' keeps its data in an external file '{location}'; a model read from bytes (a .zip) must hold its weights itself");
        var root = AtomicFile.ResolveTarget(folder);
        var file = location.Length == 0 || Path.IsPathRooted(location) ? null : AtomicFile.ResolveTarget(Path.Combine(folder, location));
        if (file is null || !file.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidDataException($"{source}: tensor '{t.Name}' keeps its data in '{location}', outside the model's folder {folder}; refused");
    }
}
