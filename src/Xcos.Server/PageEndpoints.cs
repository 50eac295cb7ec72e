namespace Xcos.Server;

/// <summary>The page at / (HTML, CSS and a little JavaScript), served from the assembly's embedded resources: nothing from a CDN.</summary>
internal static class PageEndpoints
{
    private static readonly (string Route, string Resource, string Type)[] Files =
    [
        ("/", "wwwroot/index.html", "text/html; charset=utf-8"),
        ("/app.css", "wwwroot/app.css", "text/css; charset=utf-8"),
        ("/app.js", "wwwroot/app.js", "text/javascript; charset=utf-8"),
    ];

    public static void Map(WebApplication app)
    {
        foreach (var (route, resource, type) in Files)
        {
            byte[] bytes = Read(resource);
            app.MapGet(route, (HttpContext ctx) =>
            {
                ctx.Response.Headers.XContentTypeOptions = "nosniff";
                ctx.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'";
                return Results.Bytes(bytes, type);
            }).ExcludeFromDescription();
        }
    }

    private static byte[] Read(string resource)
    {
        using var s = typeof(PageEndpoints).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded resource {resource} is missing from the build");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }
}
