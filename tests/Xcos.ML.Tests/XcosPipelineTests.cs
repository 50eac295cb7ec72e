using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;

namespace Xcos.ML.Tests;

/// <summary>
/// <c>VerifyFacePairs</c> with each of its two options classes: the shared settings (here the GPU) reach the ONNX stages
/// of both pipelines. This machine's ONNX Runtime has no CUDA, so a GPU asked for without fallback must fail with
/// <see cref="OnnxGpu"/>'s message, not be dropped silently, and with the fallback must score as the CPU does.
/// </summary>
public class XcosPipelineTests
{
    private const string NoCuda = "GpuDeviceId 0 asks for CUDA";

    private static readonly PhotoPair[] Rows =
    [
        new() { ImagePath1 = "pair0_image1.png", ImagePath2 = "pair0_image2.png", Label = true },
        new() { ImagePath1 = "pair0_image2.png", ImagePath2 = "pair0_image1.png", Label = false },
    ];

    [Fact]
    public void GpuDeviceIdReachesTheOnnxStagesOfTheTrainedNetworkPipeline()
    {
        XcosPipelineOptions Options(int? gpu, bool fallback) => new()
        {
            Weights = TinyXcos.Weights, Aligned = true, ImageFolder = Fixtures.Path("xcos_tiny"), Threshold = 0.5f,
            GpuDeviceId = gpu, FallbackToCpu = fallback,
        };
        CheckGpu(ml => ml.Transforms.VerifyFacePairs(Options(0, false)), ml => ml.Transforms.VerifyFacePairs(Options(0, true)),
            ml => ml.Transforms.VerifyFacePairs(Options(null, false)));
    }

    [RealModelsFact]
    public void GpuDeviceIdReachesTheOnnxStagesOfTheFacePhotoPipeline()
    {
        FacePhotoPipelineOptions Options(int? gpu, bool fallback) => new()
        {
            FaceModel = FaceModelDescriptor.FrFeature(), ModelsDirectory = RealFaces.ModelsDir(),
            Aligned = true, ImageFolder = Fixtures.Path("xcos_tiny"), Threshold = 0.5f, GpuDeviceId = gpu, FallbackToCpu = fallback,
        };
        CheckGpu(ml => ml.Transforms.VerifyFacePairs(Options(0, false)), ml => ml.Transforms.VerifyFacePairs(Options(0, true)),
            ml => ml.Transforms.VerifyFacePairs(Options(null, false)));
    }

    private static void CheckGpu(Func<MLContext, IEstimator<ITransformer>> gpu, Func<MLContext, IEstimator<ITransformer>> fallback,
        Func<MLContext, IEstimator<ITransformer>> cpu)
    {
        Assert.False(OnnxGpu.CudaAvailable, "this test needs an ONNX Runtime without CUDA");
        var e = Assert.ThrowsAny<Exception>(() => Scores(gpu));
        var messages = string.Join(" | ", Chain(e).Select(x => x.Message));
        Assert.Contains(NoCuda, messages);
        Assert.Contains("FallbackToCpu", messages);
        Assert.Equal(Scores(cpu), Scores(fallback));
    }

    private static float[] Scores(Func<MLContext, IEstimator<ITransformer>> estimator)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Rows);
        var scored = estimator(ml).Fit(data).Transform(data);
        Assert.Equal(["ok", "ok"], scored.GetColumn<string>("Status").ToArray());
        return scored.GetColumn<float>("Score").ToArray();
    }

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e != null; e = e.InnerException) yield return e;
    }
}
