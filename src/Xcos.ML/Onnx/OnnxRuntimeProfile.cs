using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace Xcos.ML.Onnx;

/// <summary>
/// Which kernels ONNX Runtime really ran for a model: one profiled session (<c>SessionOptions.EnableProfiling</c>),
/// the runs given, then the profile's JSON events read back. After graph optimisation the executed op types
/// show whether e.g. a QDQ convolution ran as QLinearConv or fell back to DequantizeLinear + float Conv.
/// </summary>
public static class OnnxRuntimeProfile
{
    /// <summary>Executed node count and total microseconds per op type over all runs, most time first.</summary>
    /// <param name="model">Serialized model.</param>
    /// <param name="feeds">Inputs of each run: name to data and shape.</param>
    /// <param name="intraOpThreads">Intra-op threads; 0 lets ONNX Runtime choose.</param>
    /// <exception cref="InvalidOperationException">ONNX Runtime could not run the model.</exception>
    public static IReadOnlyList<(string OpType, int Count, long Microseconds)> OpTypes(byte[] model,
        IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> feeds, int intraOpThreads = 0)
    {
        string prefix = Path.Combine(Path.GetTempPath(), $"xcos_ort_profile_{Environment.ProcessId}_{Guid.NewGuid():N}");
        string? file = null;
        try
        {
            using (var opts = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL })
            {
                if (intraOpThreads > 0) { opts.IntraOpNumThreads = intraOpThreads; opts.InterOpNumThreads = 1; }
                opts.EnableProfiling = true;
                opts.ProfileOutputPathPrefix = prefix;
                using var session = new InferenceSession(model, opts);
                foreach (var feed in feeds)
                {
                    var names = feed.Keys.ToList();
                    var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(feed[n].Data, feed[n].Shape)).ToList();
                    try
                    {
                        using var ro = new RunOptions();
                        using var outs = session.Run(ro, names, values, session.OutputNames);
                    }
                    finally { values.ForEach(v => v.Dispose()); }
                }
                file = session.EndProfiling();
            }
            return Parse(File.ReadAllText(file));
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"ONNX Runtime could not run the model for profiling: {e.Message}", e);
        }
        finally
        {
            if (file is not null && File.Exists(file)) File.Delete(file);
        }
    }

    /// <summary>Sums the node events ("cat": "Node", "args.op_name") of a profile's JSON array by op type.</summary>
    /// <exception cref="InvalidDataException">The text is not a JSON array of events.</exception>
    public static IReadOnlyList<(string OpType, int Count, long Microseconds)> Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new InvalidDataException("an ONNX Runtime profile is a JSON array of events");
        var acc = new Dictionary<string, (int Count, long Us)>(StringComparer.Ordinal);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            // Each node run has a "*_kernel_time" event (others are fence_before/after with no duration).
            if (!e.TryGetProperty("name", out var name) || name.GetString()?.EndsWith("_kernel_time", StringComparison.Ordinal) != true) continue;
            if (!e.TryGetProperty("args", out var args) || !args.TryGetProperty("op_name", out var op) || op.GetString() is not { } opType) continue;
            long dur = e.TryGetProperty("dur", out var d) && d.TryGetInt64(out var v) ? v : 0;
            acc[opType] = acc.TryGetValue(opType, out var a) ? (a.Count + 1, a.Us + dur) : (1, dur);
        }
        return acc.Select(kv => (kv.Key, kv.Value.Count, kv.Value.Us)).OrderByDescending(t => t.Us).ToList();
    }
}
