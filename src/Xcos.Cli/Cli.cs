using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xcos.ML.Torch;

namespace Xcos.Cli;

/// <summary>Exit codes that mean something: 0 ok, 1 failure, 2 usage.</summary>
public static class ExitCodes
{
    public const int Ok = 0, Failure = 1, Usage = 2;
}

/// <summary>A failure to report in one line, with what to do about it.</summary>
public sealed class CliException(string message, int exitCode = ExitCodes.Failure) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

public static class Cli
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Parses, maps usage errors to exit code 2 and any failure to a one-line message and exit code 1.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) Console.Error.WriteLine("xcos: " + e.Message);
            Console.Error.WriteLine("Run 'xcos --help' (or 'xcos COMMAND --help') for usage.");
            return ExitCodes.Usage;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            Console.Error.WriteLine("xcos: " + e.Message);
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("xcos: cancelled");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (TorchSharpLoadException.IsNativeLoadFailure(e))
        {
            // Wherever TorchSharp first runs (e.g. setting the thread count), say that its natives failed to load.
            Console.Error.WriteLine("xcos: " + TorchSharpLoadException.From(e).Message);
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or UnauthorizedAccessException or NotSupportedException or FormatException)
        {
            Console.Error.WriteLine("xcos: " + e.Message.ReplaceLineEndings(" "));
            if (Environment.GetEnvironmentVariable("XCOS_DEBUG") == "1") Console.Error.WriteLine(e);
            return ExitCodes.Failure;
        }
    }

    /// <summary>Writes one JSON object on one line to stdout.</summary>
    public static void WriteJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, value.GetType(), Json));
}
