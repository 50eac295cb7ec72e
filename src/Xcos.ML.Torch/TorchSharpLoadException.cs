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
    /// True when <paramref name="e"/> or an exception inside it comes from loading TorchSharp's natives: a
    /// <see cref="DllNotFoundException"/>, <see cref="EntryPointNotFoundException"/> or <see cref="BadImageFormatException"/>,
    /// a failed static constructor of a TorchSharp type, or a message that names LibTorchSharp, libtorch or GLIBCXX.
    /// </summary>
    public static bool IsNativeLoadFailure(Exception e) => Chain(e).Any(x =>
        x is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException
        || (x is TypeInitializationException t && t.TypeName.StartsWith("TorchSharp", StringComparison.Ordinal))
        || x.Message.Contains("LibTorchSharp", StringComparison.OrdinalIgnoreCase)
        || x.Message.Contains("libtorch", StringComparison.OrdinalIgnoreCase)
        || x.Message.Contains("GLIBCXX_", StringComparison.Ordinal));

    /// <summary>The exception to throw for a native load failure <paramref name="e"/> (see <see cref="IsNativeLoadFailure"/>).</summary>
    public static TorchSharpLoadException From(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        // The innermost message is the loader's own text (e.g. "version `GLIBCXX_3.4.32' not found").
        var cause = Chain(e).Last().Message.ReplaceLineEndings(" ").Trim().TrimEnd('.');
        var hint = cause.Contains("GLIBCXX_", StringComparison.Ordinal)
            ? $" This system's libstdc++ lacks a GLIBCXX version that libLibTorchSharp.so asks for; the Xcos.ML.Torch package's " +
              $"buildTransitive targets mark the {GlibcxxVersion} need weak in the build and publish output of every project " +
              "that references it. Rebuild the application, or see the README section 'GLIBCXX_3.4.32'."
            : " Check that the application references the libtorch natives for this platform (Xcos.ML.Torch brings " +
              "libtorch-cpu-linux-x64; see the README section 'Native libraries').";
        return new TorchSharpLoadException($"TorchSharp could not load its native library: {cause}.{hint}", e);
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (var x = e; x != null; x = x is AggregateException { InnerExceptions.Count: > 0 } a ? a.InnerExceptions[0] : x.InnerException)
            yield return x;
    }
}
