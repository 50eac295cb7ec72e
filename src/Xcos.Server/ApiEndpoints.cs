using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Xcos.ML.Figures;
using Xcos.ML.Gallery;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.Server;

/// <summary>
/// The API. Bodies are the snake_case JSON of `xcos verify --json` (<see cref="FacePairVerification.WriteJson"/>) and
/// `xcos identify --json` (<see cref="IdentificationJson"/>), plus what the page draws: the aligned faces as base64 PNG.
/// A bad upload is a 4xx naming its part; a face the detector cannot find in /v1/verify is a 200 whose faces carry the
/// status, as in the CLI (the request was fine; the answer is about the photo).
/// </summary>
internal static class ApiEndpoints
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static void Map(WebApplication app)
    {
        app.MapPost("/v1/verify", Verify).WithName("Verify")
            .WithSummary("Verify two photos (multipart files image1 and image2)")
            .WithDescription("Detects, aligns and embeds both faces; the model's cosine decides against the threshold, xCos explains it. " +
                "The body is the JSON of `xcos verify --json` plus aligned_png (the two aligned faces, base64 PNG) and, with ?figure=true, " +
                "figure_png (the explanation figure). A face that cannot be found is a 200 with its status in faces[i].status.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json").ProducesErrors();
        app.MapPost("/v1/identify", Identify).WithName("Identify")
            .WithSummary("Identify the face of one photo (multipart file image) against the gallery")
            .WithDescription("Top matches by the model's cosine, each explained by xCos maps; ?top=N (1-50, default 5), ?rerank=true orders by xCos. " +
                "The body is the JSON of `xcos identify --json` plus probe_png. 404 no_gallery when the server has none; 422 no_face.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json").ProducesErrors();
        app.MapPost("/v1/enroll", Enroll).WithName("Enroll")
            .WithSummary("Enrol photos of one person (multipart: field identity, files image, up to 8)")
            .WithDescription("All or nothing: every photo must hold a face (422 no_face naming it), then each is stored durably before the answer.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json").ProducesErrors();
        app.MapDelete("/v1/identities/{name}", Delete).WithName("DeleteIdentity")
            .WithSummary("Remove every face of an identity").Produces(StatusCodes.Status200OK, contentType: "application/json").ProducesErrors();
        app.MapGet("/v1/identities", List).WithName("ListIdentities")
            .WithSummary("Identities in the gallery with their face counts").Produces(StatusCodes.Status200OK, contentType: "application/json").ProducesErrors();
        app.MapGet("/v1/info", Info).WithName("Info")
            .WithSummary("The model, its threshold, the gallery and the limits").Produces(StatusCodes.Status200OK, contentType: "application/json");
        app.MapGet("/healthz", () => Results.Text("ok\n", "text/plain")).WithSummary("Liveness: the process answers");
        app.MapGet("/readyz", (ModelHost host) => host.IsReady
            ? Results.Json(new { ready = true })
            : Results.Json(new { ready = false, detail = host.Failure ?? "loading the models" }, statusCode: StatusCodes.Status503ServiceUnavailable))
            .WithSummary("Readiness: 200 once the models are loaded, 503 before");
        app.MapGet("/metrics", (ServerMetrics m, InferenceQueue q, ModelHost host) => Results.Text(m.Render(q, host.IsReady), "text/plain; version=0.0.4; charset=utf-8"))
            .WithSummary("Prometheus text: requests by route and status, latency histogram, faces processed, queue length");
    }

    private static RouteHandlerBuilder ProducesErrors(this RouteHandlerBuilder b)
    {
        foreach (var s in new[] { 400, 401, 404, 413, 415, 422, 429, 503, 504 })
            b.Produces<ApiErrorBody>(s, "application/json");
        return b;
    }

    private static async Task<IResult> Verify(HttpContext ctx, ModelHost host, InferenceQueue queue, ServerMetrics metrics, IOptions<XcosServerOptions> options)
    {
        var o = options.Value;
        var ct = ctx.RequestAborted;
        bool figure = Flag(ctx, "figure");
        var form = await Uploads.ReadForm(ctx.Request, ct);
        var file1 = Uploads.Files(form, "image1", o.MaxUploadBytes)[0];
        var file2 = Uploads.Files(form, "image2", o.MaxUploadBytes)[0];
        var models = await Ready(host, ct);
        using var lease = await Enter(queue, ct);
        var clock = Stopwatch.StartNew();
        var a = await Uploads.Decode(file1, o.MaxPixels, ct);
        var b = await Uploads.Decode(file2, o.MaxPixels, ct);
        var r = models.Verifier.Verify(a.Image, b.Image, a.Name, b.Name);
        metrics.Face(r.Face1.Status.ToText());
        metrics.Face(r.Face2.Status.ToText());
        var body = JsonNode.Parse(r.ToJson())!.AsObject();
        if (r.IsOk)
        {
            body["aligned_png"] = new JsonArray(Png(r.Face1.Aligned!), Png(r.Face2.Aligned!));
            if (figure) body["figure_png"] = Convert.ToBase64String(ExplanationFigure.RenderPng(r.ToExplanationInput(a.Name, b.Name)));
        }
        queue.Record(clock.Elapsed);
        ct.ThrowIfCancellationRequested();
        return Results.Text(body.ToJsonString(), "application/json");
    }

    private static async Task<IResult> Identify(HttpContext ctx, ModelHost host, InferenceQueue queue, ServerMetrics metrics, IOptions<XcosServerOptions> options)
    {
        var o = options.Value;
        var ct = ctx.RequestAborted;
        int top = Int(ctx, "top", 5, 1, 50);
        bool rerank = Flag(ctx, "rerank");
        var form = await Uploads.ReadForm(ctx.Request, ct);
        var file = Uploads.Files(form, "image", o.MaxUploadBytes)[0];
        var identifier = Gallery(await Ready(host, ct));
        using var lease = await Enter(queue, ct);
        var clock = Stopwatch.StartNew();
        var u = await Uploads.Decode(file, o.MaxPixels, ct);
        var probe = Encode(identifier, u, metrics);
        var r = identifier.Identify(probe, new FaceIdentifierOptions { Top = top, Shortlist = Math.Max(top, 20), Rerank = rerank });
        var body = JsonSerializer.SerializeToNode(IdentificationJson.From(u.Name, r, identifier.Gallery.FaceCount), Json)!.AsObject();
        body["probe_png"] = Png(probe.Face!);
        queue.Record(clock.Elapsed);
        ct.ThrowIfCancellationRequested();
        return Results.Text(body.ToJsonString(), "application/json");
    }

    private static async Task<IResult> Enroll(HttpContext ctx, ModelHost host, InferenceQueue queue, ServerMetrics metrics, IOptions<XcosServerOptions> options)
    {
        var o = options.Value;
        var ct = ctx.RequestAborted;
        var form = await Uploads.ReadForm(ctx.Request, ct);
        var identity = IdentityName(form["identity"].FirstOrDefault(), "identity");
        var files = Uploads.Files(form, "image", o.MaxUploadBytes, many: true);
        if (files.Count > XcosServer.MaxImagesPerRequest)
            throw new ApiException(StatusCodes.Status400BadRequest, "too_many_files", "image", $"{files.Count} images; one enrolment takes at most {XcosServer.MaxImagesPerRequest}");
        var identifier = Gallery(await Ready(host, ct));
        using var lease = await Enter(queue, ct);
        var clock = Stopwatch.StartNew();
        // every photo is checked before any is stored: a bad one leaves the gallery as it was
        var encoded = new List<(Upload Upload, FaceEncoding Encoding)>();
        foreach (var f in files)
        {
            var u = await Uploads.Decode(f, o.MaxPixels, ct);
            encoded.Add((u, Encode(identifier, u, metrics)));
        }
        queue.Record(clock.Elapsed);
        var stored = new JsonArray();
        await host.Writer.WaitAsync(CancellationToken.None);
        try
        {
            foreach (var (u, e) in encoded)
            {
                var face = identifier.Gallery.Enroll(identity, e.Embedding!, e.Code!, u.Name);
                stored.Add(new JsonObject { ["file"] = u.Name, ["face_id"] = face.Id });
            }
        }
        finally { host.Writer.Release(); }
        return Results.Text(new JsonObject
        {
            ["identity"] = identity, ["enrolled"] = stored,
            ["faces"] = identifier.Gallery.FaceCount, ["identities"] = identifier.Gallery.Identities.Count,
        }.ToJsonString(), "application/json");
    }

    private static async Task<IResult> Delete(string name, HttpContext ctx, ModelHost host)
    {
        var identity = IdentityName(name, "name");
        var identifier = Gallery(await Ready(host, ctx.RequestAborted));
        await host.Writer.WaitAsync(CancellationToken.None);
        int removed;
        try { removed = identifier.Gallery.RemoveIdentity(identity); }
        finally { host.Writer.Release(); }
        if (removed == 0) throw new ApiException(StatusCodes.Status404NotFound, "unknown_identity", "name", $"'{identity}' is not enrolled");
        return Results.Text(new JsonObject
        {
            ["identity"] = identity, ["removed"] = removed,
            ["faces"] = identifier.Gallery.FaceCount, ["identities"] = identifier.Gallery.Identities.Count,
        }.ToJsonString(), "application/json");
    }

    private static async Task<IResult> List(HttpContext ctx, ModelHost host)
    {
        var g = Gallery(await Ready(host, ctx.RequestAborted)).Gallery;
        var list = new JsonArray(g.Identities.Select(n => (JsonNode)new JsonObject { ["name"] = n, ["faces"] = g.FacesOf(n).Count }).ToArray());
        return Results.Text(new JsonObject { ["identities"] = list, ["faces"] = g.FaceCount }.ToJsonString(), "application/json");
    }

    private static IResult Info(ModelHost host, ApiKeyHolder key, IOptions<XcosServerOptions> options)
    {
        var o = options.Value;
        var m = host.IsReady ? host.Loading.Result : null;
        var info = new JsonObject
        {
            ["ready"] = m is not null,
            ["threshold"] = m?.Verifier.Threshold,
            ["decided_by"] = m?.Verifier.DecidedBy,
            ["xcos_variant"] = m?.Verifier.Variant.ToText(),
            ["face_size"] = m?.Verifier.FaceSize,
            ["gallery"] = m?.Identifier is { } id ? new JsonObject { ["faces"] = id.Gallery.FaceCount, ["identities"] = id.Gallery.Identities.Count } : null,
            ["api_key_required"] = key.Key is not null,
            ["max_upload_bytes"] = o.MaxUploadBytes,
            ["max_pixels"] = o.MaxPixels,
        };
        return Results.Text(info.ToJsonString(), "application/json");
    }

    private static async Task<LoadedModels> Ready(ModelHost host, CancellationToken ct)
    {
        try { return await host.Loading.WaitAsync(ct); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, "not_ready", null, $"the models could not be loaded: {e.GetBaseException().Message}");
        }
    }

    private static async Task<System.Threading.RateLimiting.RateLimitLease> Enter(InferenceQueue queue, CancellationToken ct) =>
        await queue.EnterAsync(ct) ?? throw new ApiException(StatusCodes.Status503ServiceUnavailable, "queue_full", null,
            "the server is busy (its work queue is full); retry after the Retry-After seconds", queue.RetryAfterSeconds());

    private static FaceIdentifier Gallery(LoadedModels m) => m.Identifier
        ?? throw new ApiException(StatusCodes.Status404NotFound, "no_gallery", null, "this server has no gallery; start it with --gallery FILE");

    private static FaceEncoding Encode(FaceIdentifier identifier, Upload u, ServerMetrics metrics)
    {
        var e = identifier.Encoder.Encode(u.Image);
        metrics.Face(e.Status.ToText());
        if (e.Status != FaceStatus.Ok)
            throw new ApiException(StatusCodes.Status422UnprocessableEntity, e.Status.ToText(), u.Part, $"{u.Name}: {e.StatusText}");
        return e;
    }

    private static string IdentityName(string? text, string part)
    {
        var name = text?.Trim() ?? "";
        if (name.Length is 0 or > 128 || name.Any(char.IsControl))
            throw new ApiException(StatusCodes.Status400BadRequest, "bad_identity", part, "an identity is 1 to 128 characters without control characters");
        return name;
    }

    private static bool Flag(HttpContext ctx, string name)
    {
        var v = ctx.Request.Query[name].FirstOrDefault();
        if (v is null) return false;
        return bool.TryParse(v, out var b) ? b
            : throw new ApiException(StatusCodes.Status400BadRequest, "bad_query", name, $"?{name}= takes true or false, got '{v}'");
    }

    private static int Int(HttpContext ctx, string name, int fallback, int min, int max)
    {
        var v = ctx.Request.Query[name].FirstOrDefault();
        if (v is null) return fallback;
        return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max ? n
            : throw new ApiException(StatusCodes.Status400BadRequest, "bad_query", name, $"?{name}= takes a whole number from {min} to {max}, got '{v}'");
    }

    private static string Png(RgbImage image)
    {
        using var s = new MemoryStream();
        ImageIO.SavePng(image, s);
        return Convert.ToBase64String(s.ToArray());
    }
}
