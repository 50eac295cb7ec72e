using System.Net;

namespace Xcos.Server;

/// <summary>
/// The bind rule: loopback (127.0.0.0/8, ::1, localhost) always; any other address only with an API key, since the
/// service would otherwise answer anyone who can reach the machine.
/// </summary>
public static class ListenAddresses
{
    /// <summary>Whether an URL (http://host:port) names a loopback host.</summary>
    public static bool IsLoopback(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        // Kestrel's wildcards (*, +, 0.0.0.0, [::]) bind every interface
        var fixedUrl = url.Replace("://*", "://any-host", StringComparison.Ordinal).Replace("://+", "://any-host", StringComparison.Ordinal);
        if (!Uri.TryCreate(fixedUrl, UriKind.Absolute, out var uri)) return false;
        if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }

    /// <summary>The URLs of a ';'-separated list (as --urls and ASPNETCORE_URLS take them).</summary>
    public static string[] Split(string urls) => (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Refuses a non-loopback address without an API key, in one line that says what to do.</summary>
    /// <exception cref="InvalidOperationException">An address is not loopback and there is no key.</exception>
    public static void Check(IEnumerable<string> urls, bool haveApiKey)
    {
        ArgumentNullException.ThrowIfNull(urls);
        if (haveApiKey) return;
        var open = urls.Where(u => !IsLoopback(u)).ToList();
        if (open.Count > 0)
            throw new InvalidOperationException($"refusing to listen on {string.Join(", ", open)} without an API key: that is reachable from other machines; " +
                "give --api-key-file FILE (clients then send X-Api-Key), or listen on loopback (e.g. --urls http://127.0.0.1:5080)");
    }
}
