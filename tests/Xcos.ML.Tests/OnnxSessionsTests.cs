using Xcos.ML.FaceModels;
using Xcos.ML.Onnx;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>
/// A face model asked to run on a GPU: the CUDA execution provider where this ONNX Runtime has it, else a clear error
/// that lists the providers it has (never a silent CPU run, never EntryPointNotFoundException from the CPU build).
/// </summary>
public class OnnxSessionsTests
{
    [Fact]
    public void Session_options_for_a_gpu_need_the_cuda_provider()
    {
        using (var cpu = OnnxSessions.Options(2)) Assert.Equal(2, cpu.IntraOpNumThreads);
        if (OnnxGpu.CudaAvailable) return;   // ONNX Runtime's CUDA build (-p:XcosOnnxBackend=cuda): scripts/gpu-check.sh runs it
        var e = Assert.Throws<InvalidOperationException>(() => OnnxSessions.Options(1, gpuDeviceId: 0));
        Assert.Contains("ONNX face model: GpuDeviceId 0 asks for CUDA", e.Message);
        Assert.Contains("CPUExecutionProvider", e.Message);
    }

    [RealModelsFact]
    public void The_face_model_on_a_gpu_fails_clearly_without_the_cuda_build()
    {
        if (OnnxGpu.CudaAvailable) return;
        var path = Path.Combine(RealFaces.ModelsDir()!, "fr_feature.onnx");
        var e = Assert.Throws<InvalidOperationException>(() => new OnnxFaceEmbedder(FaceModelDescriptor.FrFeature(), path, 1, OnnxPrecision.Float32, gpuDeviceId: 0));
        Assert.Contains("asks for CUDA", e.Message);
    }
}
