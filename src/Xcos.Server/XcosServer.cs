using System.Diagnostics;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Xcos.Server;

/// <summary>
/// Builds and runs the verification service: the minimal API of <see cref="ApiEndpoints"/>, the page, the limits
/// (upload size, pixel guard, request timeout, bounded work queue, per-client rate limit), metrics, OpenAPI, and a
/// graceful stop on SIGTERM (requests in flight finish, then the gallery is closed).
/// </summary>
public static class XcosServer
{
    /// <summary>Most images one enrolment request may carry.</summary>
    public const int MaxImagesPerRequest = 8;

    /// <summary>
    /// The application, not started. <paramref name="args"/> are host arguments (--urls, --Xcos:Gallery=...);
    /// <paramref name="configure"/> sets options over the configuration; <paramref name="models"/> replaces the ONNX models.
    /// Without --urls (or ASPNETCORE_URLS) it listens on <see cref="XcosServerOptions.DefaultUrls"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="InvalidOperationException">A non-loopback address without an API key, or an unreadable key file.</exception>
    public static WebApplication Build(string[] args, Action<XcosServerOptions>? configure = null, XcosServerModels? models = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (string.IsNullOrWhiteSpace(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
            builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, XcosServerOptions.DefaultUrls);
        // checked now, so a bad setting stops `xcos serve` before it binds anything
        var early = new XcosServerOptions();
        builder.Configuration.GetSection(XcosServerOptions.Section).Bind(early);
        configure?.Invoke(early);
        early.Validate();
        ListenAddresses.Check(ListenAddresses.Split(builder.Configuration[WebHostDefaults.ServerUrlsKey] ?? ""), ApiKey.Load(early.ApiKeyFile) is not null);

        var services = builder.Services;
        services.AddOptions<XcosServerOptions>().Bind(builder.Configuration.GetSection(XcosServerOptions.Section))
            .Configure(o => configure?.Invoke(o)).PostConfigure(o => o.Validate());
        services.AddSingleton(models ?? new XcosServerModels());
        services.AddSingleton<ModelHost>();
        services.AddSingleton<InferenceQueue>();
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton(sp => new ApiKeyHolder(ApiKey.Load(sp.GetRequiredService<IOptions<XcosServerOptions>>().Value.ApiKeyFile)));
        services.AddHostedService<ModelLoader>();
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Xcos.ML verification service";
            doc.Info.Description = "Face verification and 1:N identification with xCos explanations (patch cosines, attention, contributions). " +
                "Uploads are multipart/form-data; errors are {error, part, detail} (see docs/server.md).";
            return Task.CompletedTask;
        }));
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<XcosServerOptions>>((r, xo) => ConfigureRateLimit(r, xo.Value));
        services.AddRequestTimeouts(_ => { });
        services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<XcosServerOptions>>((t, xo) => t.DefaultPolicy = new RequestTimeoutPolicy
        {
            Timeout = TimeSpan.FromSeconds(xo.Value.RequestTimeoutSeconds),
            TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
            WriteTimeoutResponse = ctx => ApiErrors.Write(ctx, StatusCodes.Status504GatewayTimeout, "timeout", null,
                $"the request took longer than the server's limit of {xo.Value.RequestTimeoutSeconds:0.#} s"),
        });
        // a body of several images at most; each image is checked against MaxUploadBytes by the endpoint, naming its part
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<XcosServerOptions>>((k, xo) =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = xo.Value.MaxUploadBytes * MaxImagesPerRequest + (1 << 20);
        });
        services.AddOptions<FormOptions>().Configure<IOptions<XcosServerOptions>>((f, xo) =>
        {
            f.MultipartBodyLengthLimit = xo.Value.MaxUploadBytes * MaxImagesPerRequest + (1 << 20);
            f.ValueCountLimit = 64;
        });
        services.AddOptions<HostOptions>().Configure<IOptions<XcosServerOptions>>((h, xo) =>
            h.ShutdownTimeout = TimeSpan.FromSeconds(xo.Value.RequestTimeoutSeconds + 10));

        var app = builder.Build();
        app.Use(CountRequests);
        app.UseRequestTimeouts();
        app.Use(ApiErrors.Handle);
        app.Use(RequireApiKey);
        app.UseRateLimiter();
        ApiEndpoints.Map(app);
        PageEndpoints.Map(app);
        app.MapOpenApi();
        app.Lifetime.ApplicationStarted.Register(() => CheckBound(app));
        return app;
    }

    /// <summary>
    /// Builds and runs until SIGTERM or Ctrl+C; returns the exit code (0 after a graceful stop, 1 when the models fail to
    /// load, 2 for a bad setting, with one line on stderr).
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Action<XcosServerOptions>? configure = null, XcosServerModels? models = null)
    {
        WebApplication app;
        try { app = Build(args, configure, models); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync("xcos serve: " + e.Message).ConfigureAwait(false);
            return 2;
        }
        await using (app.ConfigureAwait(false))
        {
            var host = app.Services.GetRequiredService<ModelHost>();
            try { await app.RunAsync().ConfigureAwait(false); }
            catch (OperationCanceledException) when (Environment.ExitCode != 0) { }
            // the one line a script sees when the models cannot be loaded (the log has it too)
            if (host.Failure is { } why)
                await Console.Error.WriteLineAsync("xcos serve: cannot load the models: " + why).ConfigureAwait(false);
        }
        return Environment.ExitCode;
    }

    private static void ConfigureRateLimit(RateLimiterOptions r, XcosServerOptions o)
    {
        r.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        r.OnRejected = (ctx, ct) =>
        {
            int? after = ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var ra) ? (int)Math.Ceiling(ra.TotalSeconds) : 1;
            return new ValueTask(ApiErrors.Write(ctx.HttpContext, StatusCodes.Status429TooManyRequests, "rate_limited", null,
                $"more than {o.RateLimitPerSecond} requests a second (burst {o.RateLimitBurst}) from this client", after));
        };
        if (o.RateLimitPerSecond == 0) return;
        // per client: its API key when it sends one, else its address; only the API is limited, not the page or probes
        r.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(ctx => ctx.Request.Path.StartsWithSegments("/v1")
            ? RateLimitPartition.GetTokenBucketLimiter(ctx.Request.Headers[ApiKey.Header].FirstOrDefault() ?? ctx.Connection.RemoteIpAddress?.ToString() ?? "local",
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = o.RateLimitBurst, TokensPerPeriod = o.RateLimitPerSecond, ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0, AutoReplenishment = true,
                })
            : RateLimitPartition.GetNoLimiter(""));
    }

    private static async Task CountRequests(HttpContext ctx, RequestDelegate next)
    {
        var clock = Stopwatch.StartNew();
        try { await next(ctx).ConfigureAwait(false); }
        finally
        {
            var route = (ctx.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            ctx.RequestServices.GetRequiredService<ServerMetrics>().Request(route, ctx.Response.StatusCode, clock.Elapsed);
        }
    }

    private static Task RequireApiKey(HttpContext ctx, RequestDelegate next)
    {
        var key = ctx.RequestServices.GetRequiredService<ApiKeyHolder>().Key;
        if (key is null || !(ctx.Request.Path.StartsWithSegments("/v1") || ctx.Request.Path.StartsWithSegments("/metrics")) || key.Accepts(ctx.Request))
            return next(ctx);
        return ApiErrors.Write(ctx, StatusCodes.Status401Unauthorized, "unauthorized", ApiKey.Header, $"this server needs its API key in the {ApiKey.Header} header (or Authorization: Bearer)");
    }

    // the addresses Kestrel really bound (configuration can add endpoints that --urls does not show)
    private static void CheckBound(WebApplication app)
    {
        var addresses = app.Services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
        if (addresses is null || addresses.Count == 0) return;
        try
        {
            ListenAddresses.Check(addresses, app.Services.GetRequiredService<ApiKeyHolder>().Key is not null);
            ServerLog.Listening(app.Logger, addresses);
        }
        catch (InvalidOperationException e)
        {
            ServerLog.Fatal(app.Logger, e.Message);
            Environment.ExitCode = 2;
            app.Lifetime.StopApplication();
        }
    }
}

/// <summary>The server's API key (null: none), loaded once.</summary>
internal sealed record ApiKeyHolder(ApiKey? Key);
