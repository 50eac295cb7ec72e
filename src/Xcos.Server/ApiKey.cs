using System.Security.Cryptography;
using System.Text;

namespace Xcos.Server;

/// <summary>The API key of <see cref="XcosServerOptions.ApiKeyFile"/>: the file's first line, compared in constant time.</summary>
internal sealed class ApiKey
{
    private readonly byte[] _key;

    private ApiKey(byte[] key) => _key = key;

    /// <summary>Header that carries the key (Authorization: Bearer KEY works too).</summary>
    public const string Header = "X-Api-Key";

    /// <summary>Reads the key; null when no file is configured.</summary>
    /// <exception cref="InvalidOperationException">The file is missing, unreadable or holds no key.</exception>
    public static ApiKey? Load(string? file)
    {
        if (file is null) return null;
        string text;
        try { text = File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"API key file {Path.GetFullPath(file)}: cannot be read ({e.Message})", e);
        }
        var key = text.Split('\n')[0].Trim();
        if (key.Length < 16) throw new InvalidOperationException($"API key file {Path.GetFullPath(file)}: its first line must hold a key of at least 16 characters");
        return new ApiKey(Encoding.UTF8.GetBytes(key));
    }

    /// <summary>Whether the request carries the key.</summary>
    public bool Accepts(HttpRequest request)
    {
        string? given = request.Headers[Header].FirstOrDefault();
        var auth = request.Headers.Authorization.FirstOrDefault();
        if (given is null && auth is not null && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) given = auth[7..].Trim();
        return given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _key);
    }
}
