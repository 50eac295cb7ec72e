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
    /// <summary>
    /// The commands' JSON: one line, snake_case names (a <c>[JsonPropertyName]</c> only where a name is not the
    /// property's snake_case), NaN and infinities as literals, nulls left out.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    /// <summary>
    /// As <see cref="Json"/> with the .NET property names: the outputs that print a result object as it is declared
    /// (gallery bench, gallery-bench, demo, occlusion-benchmark, synth, train --mode occlusion's rows) have always
    /// had them, and scripts read those names.
    /// </summary>
    public static readonly JsonSerializerOptions JsonDeclaredNames = new(Json) { PropertyNamingPolicy = null };

    /// <summary>Parses, maps usage errors to exit code 2 and any failure to a one-line message and exit code 1.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // one line, like every other failure
            var errors = string.Join("; ", parse.Errors.Select(e => e.Message.ReplaceLineEndings(" ")));
            Console.Error.WriteLine($"xcos: {errors} (run 'xcos --help' or 'xcos COMMAND --help' for usage)");
            return ExitCodes.Usage;
        }
        // a worker thread's exception cannot reach the catch below; it still ends as one line and exit 1
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            if (e.ExceptionObject is Exception ex) Report(ex);
            Environment.Exit(ExitCodes.Failure);
        };
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (CliException e)
        {
            Report(e);
            return e.ExitCode;
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException)
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
        catch (Exception e)
        {
            // every failure is one line; the stack trace only on request
            Report(e);
            return ExitCodes.Failure;
        }
    }

    private static void Report(Exception e)
    {
        var inner = Unwrap(e);
        Console.Error.WriteLine("xcos: " + Describe(inner).ReplaceLineEndings(" "));
        if (Environment.GetEnvironmentVariable("XCOS_DEBUG") == "1") Console.Error.WriteLine(e);
    }

    // Failures of the user's input carry their own message; anything else is a defect, said so with its type.
    internal static string Describe(Exception e) => e switch
    {
        CliException or IOException or InvalidDataException or ArgumentException or InvalidOperationException or UnauthorizedAccessException
            or NotSupportedException or FormatException or KeyNotFoundException or System.Text.Json.JsonException => e.Message,
        _ when e.GetType().Namespace?.StartsWith("Xcos", StringComparison.Ordinal) == true => e.Message,
        _ => $"internal error ({e.GetType().Name}: {e.Message}); run with XCOS_DEBUG=1 for the stack trace and report it",
    };

    // Wrappers (tasks, type initialisers, reflection) hide the failure that explains the problem.
    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: 1 } a: e = a.InnerExceptions[0]; continue;
                case System.Reflection.TargetInvocationException { InnerException: { } i }: e = i; continue;
                case TypeInitializationException { InnerException: { } t }: e = t; continue;
                default: return e;
            }
        }
    }

    /// <summary>
    /// <paramref name="text"/> (an identity, a file name: anything a user or a folder name chose) with control characters
    /// escaped (\n, \r, \t, \uXXXX, line and paragraph separators too), so a name cannot break a line of output or fake one.
    /// </summary>
    public static string Printable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(NeedsEscape)) return text;
        var b = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
            b.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when NeedsEscape(c) => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        return b.ToString();
    }

    private static bool NeedsEscape(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    /// <summary>Writes one JSON object on one line to stdout, with snake_case names.</summary>
    public static void WriteJson(object value) => WriteJson(value, Json);

    /// <summary>Writes one JSON object on one line to stdout with <paramref name="options"/> (<see cref="Json"/> or <see cref="JsonDeclaredNames"/>).</summary>
    public static void WriteJson(object value, JsonSerializerOptions options) => Console.Out.WriteLine(JsonSerializer.Serialize(value, value.GetType(), options));
}
