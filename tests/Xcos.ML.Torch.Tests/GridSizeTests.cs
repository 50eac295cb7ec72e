using TorchSharp;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>The grid is 7x7 everywhere (attention, exports, ML.NET, figures); another size is refused, named.</summary>
public sealed class GridSizeTests
{
    [Theory]
    [InlineData("ir", 224, "14x14")]
    [InlineData("mobilefacenet", 80, "5x5")]
    public void ANon7x7GridIsRefusedNamingItsSize(string arch, int input, string grid)
    {
        using var model = new XcosModel(new XcosModelOptions { Arch = arch, Stages = arch == "ir" ? [1, 1, 1, 1] : null, GridChannels = 8, TargetArch = arch == "ir" ? "ir" : null });
        model.eval();
        using var _ = no_grad();
        using var x = rand(1, 3, input, input);
        var e = Assert.Throws<NotSupportedException>(() => model.Forward(x, x));
        Assert.Contains($"last feature map is {grid} for a {input}x{input} input", e.Message);
        Assert.Contains("7x7 grid only (112x112 input)", e.Message);
        if (model.BackboneTarget is { } target)
            Assert.Contains(grid, Assert.Throws<NotSupportedException>(() => target.Embed(x)).Message);
        using var ok = rand(1, 3, 112, 112);
        Assert.Equal([1L], model.Forward(ok, ok).Xcos.shape);
    }
}
