using Xcos.ML.Torch.Export;

namespace Xcos.ML.Torch.Tests;

/// <summary>A TorchSharp that cannot load its natives is reported as that, not as an unreadable checkpoint.</summary>
public class TorchSharpLoadExceptionTests
{
    // What .NET reports when libLibTorchSharp.so needs a GLIBCXX version the system libstdc++ lacks.
    private static Exception GlibcxxFailure() => new TypeInitializationException("TorchSharp.torch",
        new DllNotFoundException("Unable to load shared library 'LibTorchSharp' or one of its dependencies. " +
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by libLibTorchSharp.so)"));

    private static string Checkpoint => Fixtures.Path("xcos_tiny", "checkpoint.pth");

    [Fact]
    public void NativeLoadFailureWhileReadingACheckpointNamesTheCause()
    {
        var e = Assert.Throws<TorchSharpLoadException>(() =>
            TorchOnnxExport.LoadCheckpointWeights(Checkpoint, _ => throw GlibcxxFailure()));
        Assert.StartsWith("TorchSharp could not load its native library: ", e.Message);
        Assert.Contains("GLIBCXX_3.4.32", e.Message);
        Assert.Contains("buildTransitive", e.Message);
        Assert.DoesNotContain("not a readable PyTorch checkpoint", e.Message);
        Assert.IsType<TypeInitializationException>(e.InnerException);
    }

    [Fact]
    public void MissingNativesAreReportedWithoutTheGlibcxxHint()
    {
        var e = Assert.Throws<TorchSharpLoadException>(() => TorchOnnxExport.LoadCheckpointWeights(Checkpoint,
            _ => throw new DllNotFoundException("Unable to load shared library 'LibTorchSharp' or one of its dependencies.")));
        Assert.Contains("LibTorchSharp", e.Message);
        Assert.Contains("libtorch natives", e.Message);
        Assert.DoesNotContain("GLIBCXX", e.Message);
    }

    [Fact]
    public void AnUnreadableFileIsStillReportedAsOne()
    {
        var e = Assert.Throws<InvalidDataException>(() => TorchOnnxExport.LoadCheckpointWeights(Checkpoint,
            _ => throw new InvalidDataException("End of Central Directory record could not be found.")));
        Assert.Contains(Checkpoint, e.Message);
        Assert.Contains("not a readable PyTorch checkpoint", e.Message);
    }

    [Theory]
    [InlineData(typeof(InvalidDataException), "not a torch zip archive", false)]
    [InlineData(typeof(DllNotFoundException), "Unable to load shared library 'onnxruntime'", false)]
    [InlineData(typeof(NotSupportedException), "legacy torch file: storage views are not supported.", false)]
    [InlineData(typeof(DllNotFoundException), "Unable to load shared library 'LibTorchSharp'", true)]
    [InlineData(typeof(EntryPointNotFoundException), "Unable to find an entry point in 'LibTorchSharp'", true)]
    [InlineData(typeof(NotSupportedException), "This application uses TorchSharp but doesn't contain a reference to libtorch-cpu", true)]
    public void ClassifiesByTypeAndLibrary(Type type, string message, bool native)
    {
        var e = (Exception)Activator.CreateInstance(type, message)!;
        Assert.Equal(native, TorchSharpLoadException.IsNativeLoadFailure(new AggregateException(e)));
    }
}
