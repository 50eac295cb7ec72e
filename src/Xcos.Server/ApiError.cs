using System.Text.Json;
using System.Text.Json.Serialization;

namespace Xcos.Server;

/// <summary>
/// The body of every error answer: <c>{"error": code, "part": form part or null, "detail": words}</c>. The codes and
/// their statuses are listed in docs/server.md; no answer carries a stack trace.
/// </summary>
/// <param name="Error">Machine-readable code (empty_file, not_an_image, queue_full, ...).</param>
/// <param name="Part">The form part or route value at fault (image1, identity, ...), or null.</param>
/// <param name="Detail">What was wrong and what was expected, in words.</param>
public sealed record ApiErrorBody(
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("part")] string? Part,
    [property: JsonPropertyName("detail")] string Detail);

/// <summary>A request the server refuses: its status code and body. Thrown by endpoint code, written by <see cref="ApiErrors"/>.</summary>
internal sealed class ApiException(int status, string code, string? part, string detail, int? retryAfter = null) : Exception(detail)
{
    public int Status { get; } = status;
    public int? RetryAfter { get; } = retryAfter;
    public ApiErrorBody Body { get; } = new(code, part, detail);
}

/// <summary>Writes error bodies, and turns every exception that escapes an endpoint into one (never a stack trace).</summary>
internal static class ApiErrors
{
    internal static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.Never, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Task Write(HttpContext context, int status, string code, string? part, string detail, int? retryAfter = null)
    {
        var r = context.Response;
        if (r.HasStarted) return Task.CompletedTask;
        r.Clear();
        r.StatusCode = status;
        if (retryAfter is { } s) r.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        r.ContentType = "application/json; charset=utf-8";
        return r.WriteAsync(JsonSerializer.Serialize(new ApiErrorBody(code, part, detail), Json), context.RequestAborted);
    }

    /// <summary>Middleware: <see cref="ApiException"/> as its status; a body over Kestrel's limit as 413; anything else as 500 internal_error, logged.</summary>
    public static async Task Handle(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            await Write(context, e.Status, e.Body.Error, e.Body.Part, e.Body.Detail, e.RetryAfter).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals (body over MaxRequestBodySize, malformed request) keep their status
            string code = e.StatusCode == StatusCodes.Status413PayloadTooLarge ? "upload_too_large" : "bad_request";
            await Write(context, e.StatusCode, code, null, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // the client went away, or the request timeout fired: the timeout middleware writes its own answer
            throw;
        }
        catch (Exception e)
        {
            ServerLog.Unhandled(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Xcos.Server"), e, context.Request.Path);
            await Write(context, StatusCodes.Status500InternalServerError, "internal_error", null,
                $"the server failed on this request ({e.GetType().Name}); it is logged on the server").ConfigureAwait(false);
        }
    }
}
