using TorchSharp;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>Runs only where libtorch sees a GPU (a build with -p:XcosTorchBackend=cuda on an NVIDIA machine; scripts/gpu-check.sh).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!torch.cuda.is_available()) Skip = "no CUDA device visible to libtorch (CPU natives, or no GPU)";
    }
}

/// <summary>
/// The tiny fixture network on the GPU against the same network on the CPU and against the fixture's PyTorch
/// outputs, and a training step on the GPU: what scripts/gpu-check.sh checks before it times anything.
/// </summary>
public sealed class CudaParityTests(TinyXcosFixture f) : IClassFixture<TinyXcosFixture>
{
    [CudaFact]
    public void The_fixture_network_on_cuda_gives_the_cpu_outputs()
    {
        using var model = new XcosModel(TinyXcosFixture.Options);
        XcosCheckpoint.Load(model, Fixtures.Path("xcos_tiny", "checkpoint.pth"));
        model.to(CUDA);
        model.eval();
        using var x1 = f.Input1.to(CUDA);
        using var x2 = f.Input2.to(CUDA);
        XcosOutput o;
        using (no_grad()) o = model.Forward(x1, x2);
        Assert.Equal(DeviceType.CUDA, o.Xcos.device_type);
        // cuDNN's convolutions sum in another order than the CPU's: agreement to 1e-3, the fixture's files to the same
        NetworkParityTests.AssertClose("xcos.npy", o.Xcos, 1e-3);
        NetworkParityTests.AssertClose("cos_map.npy", o.CosMap, 1e-3);
        NetworkParityTests.AssertClose("attention.npy", o.Attention, 1e-3);
        NetworkParityTests.AssertClose("flat1.npy", o.Flat1, 1e-3);
        NetworkParityTests.AssertClose("target_cos.npy", o.TargetCos!, 1e-3);
        var cpu = f.Output.Xcos.data<float>().ToArray();
        var gpu = o.Xcos.cpu().data<float>().ToArray();
        for (int i = 0; i < cpu.Length; i++) Assert.Equal(cpu[i], gpu[i], 1e-3f);
    }

    [CudaFact]
    public void A_few_training_steps_on_cuda_lower_the_loss_and_leave_the_target_frozen()
    {
        using var model = new XcosModel(TinyXcosFixture.Options);
        XcosCheckpoint.Load(model, Fixtures.Path("xcos_tiny", "checkpoint.pth"));
        model.to(CUDA);
        model.train();
        var target = model.BackboneTarget!.parameters().Select(p => p.detach().clone()).ToList();
        using var opt = optim.Adam(model.Backbone.parameters().Concat(model.AttentionNet.parameters()), 1e-3);
        using var x1 = f.Input1.to(CUDA);
        using var x2 = f.Input2.to(CUDA);
        var losses = new List<float>();
        for (int step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            var o = model.Forward(x1, x2);
            // pull xCos towards the frozen target's cosine, as head training does
            var loss = nn.functional.mse_loss(o.Xcos, o.TargetCos!.detach());
            opt.zero_grad();
            loss.backward();
            opt.step();
            losses.Add(loss.cpu().item<float>());
        }
        Assert.All(losses, l => Assert.True(float.IsFinite(l), $"losses {string.Join(", ", losses)}"));
        Assert.True(losses[^1] < losses[0], $"losses {string.Join(", ", losses)}");
        foreach (var (before, after) in target.Zip(model.BackboneTarget!.parameters()))
            Assert.Equal(before.cpu().data<float>().ToArray(), after.detach().cpu().data<float>().ToArray());
    }
}
