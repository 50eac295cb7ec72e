using Microsoft.ML.OnnxRuntime;

namespace Xcos.ML.Onnx;

/// <summary>
/// The GPU device an ML.NET ONNX stage is given. ML.NET's own CPU fallback catches only ONNX Runtime's exceptions,
/// but the CPU build of ONNX Runtime lacks the CUDA entry point altogether (EntryPointNotFoundException), so
/// <c>FallbackToCpu</c> never worked there: the providers are checked here first.
/// </summary>
internal static class OnnxGpu
{
    /// <summary>The CUDA execution provider's name in <c>OrtEnv.GetAvailableProviders</c>.</summary>
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>Whether this process's ONNX Runtime has the CUDA execution provider.</summary>
    public static bool CudaAvailable => OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider);

    /// <summary>
    /// <paramref name="gpuDeviceId"/> when CUDA is available; null (CPU) when it is not and <paramref name="fallbackToCpu"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A GPU is asked for, CUDA is missing and no fallback is allowed (the message lists the providers).</exception>
    public static int? Resolve(int? gpuDeviceId, bool fallbackToCpu, string stage)
    {
        if (gpuDeviceId is null || CudaAvailable) return gpuDeviceId;
        if (fallbackToCpu) return null;
        throw new InvalidOperationException($"{stage}: GpuDeviceId {gpuDeviceId} asks for CUDA, but this ONNX Runtime has only {string.Join(", ", OrtEnv.Instance().GetAvailableProviders())} " +
            "(the GPU build is the Microsoft.ML.OnnxRuntime.Gpu package); set FallbackToCpu = true to run on the CPU instead.");
    }
}
