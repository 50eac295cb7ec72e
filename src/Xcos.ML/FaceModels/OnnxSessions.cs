using Microsoft.ML.OnnxRuntime;

namespace Xcos.ML.FaceModels;

/// <summary>Opening ONNX Runtime sessions with file-naming errors.</summary>
internal static class OnnxSessions
{
    /// <summary>Session options; <paramref name="gpuDeviceId"/> adds the CUDA execution provider (checked first: <see cref="Onnx.OnnxGpu.Resolve"/>).</summary>
    public static SessionOptions Options(int intraOpThreads, int? gpuDeviceId = null)
    {
        var o = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (intraOpThreads > 0) { o.IntraOpNumThreads = intraOpThreads; o.InterOpNumThreads = 1; }
        if (gpuDeviceId is { } id)
        {
            try { o.AppendExecutionProvider_CUDA(Onnx.OnnxGpu.Resolve(id, fallbackToCpu: false, "ONNX face model")!.Value); }
            catch { o.Dispose(); throw; }
        }
        return o;
    }

    public static InferenceSession Open(string path, int intraOpThreads) => Open(path, null, intraOpThreads);

    /// <summary>Opens <paramref name="bytes"/> (an edited model) or else the file at <paramref name="path"/>; on GPU <paramref name="gpuDeviceId"/> when given.</summary>
    public static InferenceSession Open(string path, byte[]? bytes, int intraOpThreads, int? gpuDeviceId = null)
    {
        if (bytes is null && !File.Exists(path)) throw new FileNotFoundException($"ONNX model file not found: {path} (run `xcos models fetch`)", path);
        // what ONNX Runtime would open besides the model: external data only inside the model's folder, none for bytes
        if (bytes is null) Onnx.OnnxModelFile.Load(path);
        else Onnx.OnnxExternalData.Check(Onnx.Proto.ModelProto.Parser.ParseFrom(bytes), null, path);
        using var opts = Options(intraOpThreads, gpuDeviceId);
        try { return bytes is null ? new InferenceSession(path, opts) : new InferenceSession(bytes, opts); }
        catch (OnnxRuntimeException e) { throw new InvalidDataException($"{path}: ONNX Runtime cannot load the model: {e.Message}", e); }
    }

    /// <summary>Runs one inference (the run options live only for the call).</summary>
    public static IDisposableReadOnlyCollection<OrtValue> Run(InferenceSession s, string input, OrtValue value, params string[] outputs)
    {
        using var ro = new RunOptions();
        return s.Run(ro, [input], [value], outputs);
    }

    /// <summary>Checks one input of the given shape and the named outputs.</summary>
    public static void Expect(InferenceSession s, string path, string input, long[] shape, params string[] outputs)
    {
        if (!s.InputMetadata.TryGetValue(input, out var meta))
            throw new InvalidDataException($"{path}: expected an input named '{input}', found {string.Join(", ", s.InputMetadata.Keys)}");
        var dims = meta.Dimensions;
        if (dims.Length != shape.Length || dims.Zip(shape).Any(d => d.First > 0 && d.First != d.Second))
            throw new InvalidDataException($"{path}: input '{input}' has shape [{string.Join(",", dims)}], expected [{string.Join(",", shape)}]");
        foreach (var o in outputs)
            if (!s.OutputMetadata.ContainsKey(o))
                throw new InvalidDataException($"{path}: expected an output named '{o}', found {string.Join(", ", s.OutputMetadata.Keys)}");
    }
}
