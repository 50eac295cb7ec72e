namespace Xcos.ML.Torch;

/// <summary>
/// TorchSharp could not load its native libraries (libLibTorchSharp, libtorch): the process cannot run any tensor
/// code, whatever file it was reading. Thrown instead of a "not a readable checkpoint" error so that the message
/// names the real cause.
/// </summary>
public sealed class TorchSharpLoadException : InvalidOperationException
{
    /// <summary>The GLIBCXX version libLibTorchSharp.so of TorchSharp 0.107 declares a need for.</summary>
    public const string GlibcxxVersion = "GLIBCXX_3.4.32";

    private TorchSharpLoadException(string message, Exception inner) : base(message, inner) { }

    /// <summary>
    /// True when <paramref name="e"/> or an exception inside it comes from loading TorchSharp's natives: a failed
    /// static constructor of a TorchSharp type, or a <see cref="DllNotFoundException"/>,
    /// <see cref="EntryPointNotFoundException"/>, <see cref="BadImageFormatException"/> or <see cref="NotSupportedException"/>
    /// whose message names libtorch or LibTorchSharp. Other native libraries (ONNX
    /// Runtime, SkiaSharp) are not TorchSharp's problem and are left alone.
    /// </summary>
    public static bool IsNativeLoadFailure(Exception e) => Chain(e).Any(x =>
        (x is TypeInitializationException t && t.TypeName.StartsWith("TorchSharp", StringComparison.Ordinal))
        || (x is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or NotSupportedException
            && x.Message.Contains("libtorch", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The exception to throw for a native load failure <paramref name="e"/> (see <see cref="IsNativeLoadFailure"/>).</summary>
    public static TorchSharpLoadException From(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        // The innermost message is the loader's own text (e.g. "version `GLIBCXX_3.4.32' not found").
        var cause = Chain(e).Last().Message.ReplaceLineEndings(" ").Trim().TrimEnd('.');
        var hint = cause.Contains("GLIBCXX_", StringComparison.Ordinal)
            ? $" This system's libstdc++ lacks a GLIBCXX version that libLibTorchSharp.so asks for; the Xcos.ML.Torch package's " +
              $"buildTransitive targets mark the {GlibcxxVersion} need weak in the build and publish output of every project " +
              "that references it. Rebuild the application, or see docs/packaging.md in the Xcos.ML repository."
            : " Check that the application references the libtorch natives for its platform (libtorch-cpu-linux-x64, " +
              "libtorch-cpu-win-x64, libtorch-cpu-osx-arm64 or TorchSharp-cpu): the Xcos.ML.Torch package leaves that " +
              "choice to the application (docs/packaging.md in the Xcos.ML repository).";
        return new TorchSharpLoadException($"TorchSharp could not load its native library: {cause}.{hint}", e);
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (var x = e; x != null; x = x is AggregateException { InnerExceptions.Count: > 0 } a ? a.InnerExceptions[0] : x.InnerException)
            yield return x;
    }
}
