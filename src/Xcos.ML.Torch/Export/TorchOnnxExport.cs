using System.Collections;
using Google.Protobuf;
using TorchSharp;
using TorchSharp.PyBridge;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Export;

/// <summary>
/// ONNX export of TorchSharp xCos networks: the module's <c>state_dict()</c> becomes a name-to-array weight
/// dictionary, and <see cref="XcosOnnxExport"/> builds the graph from it. The module's class does not matter,
/// only that its parameter and buffer names follow the xCos checkpoint layout (<c>backbone.*</c>, <c>attention.*</c>,
/// <c>backbone_target.*</c>).
/// </summary>
public static class TorchOnnxExport
{
    /// <summary>
    /// Copies every floating-point entry of a state dict to float32 arrays (CPU, C order). Integer entries
    /// such as BatchNorm's <c>num_batches_tracked</c> carry no weights and are left out.
    /// </summary>
    public static Dictionary<string, WeightTensor> ToWeights(IEnumerable<KeyValuePair<string, Tensor>> stateDict)
    {
        var result = new Dictionary<string, WeightTensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in stateDict)
        {
            if (!tensor.is_floating_point()) continue;
            using var scope = NewDisposeScope();
            var t = tensor.detach().cpu().to_type(ScalarType.Float32).contiguous();
            result[key] = new WeightTensor(t.data<float>().ToArray(), t.shape.ToArray());
        }
        return result;
    }

    /// <summary>The weights of <paramref name="module"/> (parameters and buffers, by state-dict name).</summary>
    public static Dictionary<string, WeightTensor> ToWeights(nn.Module module) => ToWeights(module.state_dict());

    /// <summary>
    /// Reads a PyTorch checkpoint written by <c>torch.save</c> (zip format) — a bare state dict or a
    /// <c>{'state_dict': ...}</c> container as the published xCos checkpoints — into a weight dictionary.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a readable checkpoint or holds no tensors; the message names it.</exception>
    /// <exception cref="TorchSharpLoadException">TorchSharp's native libraries failed to load (the file was never read).</exception>
    public static Dictionary<string, WeightTensor> LoadCheckpointWeights(string path) =>
        LoadCheckpointWeights(path, p => PyTorchUnpickler.UnpickleStateDict(p));

    // The reader is a parameter so tests can stand in for a TorchSharp that fails to load.
    internal static Dictionary<string, WeightTensor> LoadCheckpointWeights(string path, Func<string, Hashtable> read)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint not found: {path}", path);
        Hashtable root;
        try { root = read(path); }
        catch (Exception e) when (TorchSharpLoadException.IsNativeLoadFailure(e)) { throw TorchSharpLoadException.From(e); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: not a readable PyTorch checkpoint (torch.save zip format expected): {e.Message}", e);
        }
        var dict = root["state_dict"] as Hashtable ?? root;
        var entries = new List<KeyValuePair<string, Tensor>>();
        foreach (DictionaryEntry e in dict)
            if (e.Key is string k && e.Value is Tensor t) entries.Add(new(k, t));
        try
        {
            if (entries.Count == 0) throw new InvalidDataException($"{path}: the checkpoint holds no tensors (neither a state dict nor a {{'state_dict': ...}} container)");
            return ToWeights(entries);
        }
        finally
        {
            foreach (var e in entries) e.Value.Dispose();
        }
    }

    /// <summary>The embedding model of <paramref name="module"/> (see <see cref="XcosOnnxExport.BuildEmbeddingModel"/>).</summary>
    public static ModelProto BuildEmbeddingModel(nn.Module module, XcosOnnxExportOptions? options = null) =>
        XcosOnnxExport.BuildEmbeddingModel(ToWeights(module), options);

    /// <summary>The pair-head model of <paramref name="module"/> (see <see cref="XcosOnnxExport.BuildPairHeadModel"/>).</summary>
    public static ModelProto BuildPairHeadModel(nn.Module module, XcosOnnxExportOptions? options = null) =>
        XcosOnnxExport.BuildPairHeadModel(ToWeights(module), options);

    /// <summary>Writes the embedding model and the pair-head model of <paramref name="module"/> to two .onnx files.</summary>
    public static void Save(nn.Module module, string embeddingPath, string pairHeadPath, XcosOnnxExportOptions? options = null)
    {
        var weights = ToWeights(module);
        File.WriteAllBytes(embeddingPath, XcosOnnxExport.BuildEmbeddingModel(weights, options).ToByteArray());
        File.WriteAllBytes(pairHeadPath, XcosOnnxExport.BuildPairHeadModel(weights, options).ToByteArray());
    }
}
