using Xcos.Cli.Commands;
using Xcos.ML.MLNet;
using Xcos.ML.Torch;

namespace Xcos.Cli.Tests;

/// <summary>The xcos tool package: one version with the libraries it ships.</summary>
public class CliPackageTests
{
    [Fact]
    public void TheToolHasTheLibrariesVersion()
    {
        // The tool was 1.0.0 (the SDK's default) while the libraries were 0.1.0 (Package.props): the version now lives
        // once in Directory.Build.props.
        var tool = typeof(ExportCommand).Assembly.GetName().Version;
        Assert.Equal(typeof(FacePairInput).Assembly.GetName().Version, tool);
        Assert.Equal(typeof(TorchRuntime).Assembly.GetName().Version, tool);
        Assert.Equal(new Version(0, 1, 0, 0), tool);
    }
}
