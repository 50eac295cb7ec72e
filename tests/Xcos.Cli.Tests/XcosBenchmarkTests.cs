using Xcos.Cli.Benchmarks;
using Xcos.ML.Onnx;
using Xunit;

namespace Xcos.Cli.Tests;

/// <summary>`xcos bench`'s device: where each part ran is recorded, and a GPU asked of a CPU build fails naming what is missing.</summary>
public class XcosBenchmarkTests
{
    [Fact]
    public void The_result_says_where_it_ran_and_a_device_text_is_checked()
    {
        var r = XcosBenchmark.Run(new XcosBenchmarkOptions { Only = "head", Depth = 18, HeadPairs = 4, Seconds = 0.05, Threads = 1 });
        Assert.Equal("libtorch cpu, ONNX Runtime CPU", r.Device);
        Assert.True(r.HeadPairsPerSecond > 0);
        Assert.Null(r.FaceImagesPerSecondOnnx);
        Assert.Throws<ArgumentException>(() => XcosBenchmark.Run(new XcosBenchmarkOptions { Only = "face", Device = "cuda:x" }));
        if (OnnxGpu.CudaAvailable) return;
        // `--only face` needs no libtorch CUDA build; ONNX Runtime's CPU build has no CUDA provider
        var e = Assert.Throws<InvalidOperationException>(() => XcosBenchmark.Run(new XcosBenchmarkOptions { Only = "face", Device = "cuda" }));
        Assert.Contains("xcos bench --device cuda: GpuDeviceId 0 asks for CUDA", e.Message);
    }
}
