using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace Xcos.ML.PgVector;

/// <summary>
/// A database gallery's address in the libpq URI form PostgreSQL users write:
/// <c>postgresql://USER@HOST:PORT/DB?table=NAME</c> (also <c>postgres://</c>; several hosts as <c>H1:P1,H2:P2</c>).
/// A password written in the URI is dropped (<see cref="PasswordDropped"/>) and never kept or shown: the password
/// comes from <c>PGPASSWORD</c> or the password file (<c>PGPASSFILE</c>, default <c>~/.pgpass</c>).
/// </summary>
public sealed partial class PgVectorGalleryLocation
{
    /// <summary>Table used when the URI names none.</summary>
    public const string DefaultTable = "xcos_faces";

    // Unquoted PostgreSQL identifiers of at most 57 bytes: the metadata table adds "_meta" and the index "_hnsw" within 63.
    [GeneratedRegex("^[a-z_][a-z0-9_]{0,56}$")]
    private static partial Regex TableName();

    // libpq parameters that mean the same here; anything else is refused rather than silently ignored.
    private static readonly HashSet<string> Passed = new(StringComparer.Ordinal) { "sslmode", "connect_timeout", "application_name", "target_session_attrs" };

    private PgVectorGalleryLocation(IReadOnlyList<(string Host, int Port)> hosts, string? user, string database, string table,
        IReadOnlyDictionary<string, string> parameters, bool passwordDropped)
    {
        Hosts = hosts;
        User = user;
        Database = database;
        Table = table;
        Parameters = parameters;
        PasswordDropped = passwordDropped;
    }

    /// <summary>Hosts and ports, in the order tried.</summary>
    public IReadOnlyList<(string Host, int Port)> Hosts { get; }
    /// <summary>User name, or null (then <c>PGUSER</c> or the operating-system user, as libpq does).</summary>
    public string? User { get; }
    /// <summary>Database name.</summary>
    public string Database { get; }
    /// <summary>The faces table (a validated plain identifier).</summary>
    public string Table { get; }
    /// <summary>Other libpq parameters given (sslmode, connect_timeout, application_name, target_session_attrs).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; }
    /// <summary>True when the URI carried a password, which was dropped unread.</summary>
    public bool PasswordDropped { get; }

    /// <summary>"host:port" of the first host (or all, comma-separated).</summary>
    public string Endpoint => string.Join(",", Hosts.Select(h => $"{h.Host}:{h.Port}"));

    /// <summary>Parses a gallery URI.</summary>
    /// <exception cref="FormatException">Not a postgresql:// URI of this form, or a table name that is not a plain identifier.
    /// The message never repeats the URI's password.</exception>
    public static PgVectorGalleryLocation Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        int sep = uri.IndexOf("://", StringComparison.Ordinal);
        var scheme = sep > 0 ? uri[..sep].ToLowerInvariant() : "";
        if (scheme is not ("postgresql" or "postgres"))
            throw new FormatException("a database gallery is written postgresql://USER@HOST:PORT/DB?table=NAME");
        var rest = uri[(sep + 3)..];
        string query = "";
        int q = rest.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0) { query = rest[(q + 1)..]; rest = rest[..q]; }
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string authority = slash >= 0 ? rest[..slash] : rest;
        string database = slash >= 0 ? Uri.UnescapeDataString(rest[(slash + 1)..]) : "";
        string? user = null;
        bool passwordDropped = false;
        int at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            authority = authority[(at + 1)..];
            int colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0) { passwordDropped = true; userInfo = userInfo[..colon]; }
            user = userInfo.Length > 0 ? Uri.UnescapeDataString(userInfo) : null;
        }
        var hosts = new List<(string, int)>();
        foreach (var part in authority.Split(','))
        {
            if (part.Length == 0) continue;
            string host = part;
            int port = 5432;
            int colon = part.LastIndexOf(':');
            if (colon >= 0 && !part.EndsWith(']'))
            {
                host = part[..colon];
                if (!int.TryParse(part[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
                    throw new FormatException($"postgresql:// gallery: '{part[(colon + 1)..]}' is not a port number (1-65535)");
            }
            hosts.Add((Uri.UnescapeDataString(host.Trim('[', ']')), port));
        }
        if (hosts.Count == 0) hosts.Add(("localhost", 5432));
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        string table = DefaultTable;
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
            var value = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..]) : "";
            if (key == "password") { passwordDropped = true; continue; }
            if (key == "table") table = value;
            else if (key == "user") user = value;
            else if (key == "dbname") database = value;
            else if (Passed.Contains(key)) parameters[key] = value;
            else throw new FormatException($"postgresql:// gallery: unknown parameter '{key}' (expected table, user, dbname, {string.Join(", ", Passed.Order(StringComparer.Ordinal))})");
        }
        if (!TableName().IsMatch(table))
            throw new FormatException($"postgresql:// gallery: table '{Shorten(table)}' is not a plain lower-case identifier (letters a-z, digits and _, at most 57, not starting with a digit)");
        if (database.Length == 0) database = user ?? Environment.GetEnvironmentVariable("PGUSER") ?? Environment.UserName;
        return new PgVectorGalleryLocation(hosts, user, database, table, parameters, passwordDropped);
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";

    /// <summary>The URI as it may be printed: no password, ever.</summary>
    public override string ToString()
    {
        var user = User is null ? "" : Uri.EscapeDataString(User) + "@";
        var query = string.Join("&", new[] { $"table={Table}" }.Concat(Parameters.Select(kv => $"{kv.Key}={Uri.EscapeDataString(kv.Value)}")));
        return $"postgresql://{user}{Endpoint}/{Uri.EscapeDataString(Database)}?{query}";
    }

    /// <summary>
    /// The Npgsql connection string: the password from <c>PGPASSWORD</c>, else the password file (<c>PGPASSFILE</c> or
    /// <c>~/.pgpass</c>) when one exists. It holds the password: never print it.
    /// </summary>
    internal string ConnectionString()
    {
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = string.Join(",", Hosts.Select(h => h.Host.Contains(':', StringComparison.Ordinal) ? $"[{h.Host}]:{h.Port}" : $"{h.Host}:{h.Port}")),
            Database = Database,
            Username = User ?? Environment.GetEnvironmentVariable("PGUSER") ?? Environment.UserName,
            // a dead server should fail in seconds with a message, not hang the command
            Timeout = 10,
            CommandTimeout = 120,
            ApplicationName = "xcos",
            MaxPoolSize = 8,
            // no DISCARD ALL between uses: the gallery keeps no session state (its settings are SET LOCAL)
            NoResetOnClose = true,
        };
        if (Environment.GetEnvironmentVariable("PGPASSWORD") is { Length: > 0 } password) b.Password = password;
        else
        {
            // a PGPASSFILE that is set is read by the driver itself (and reported when missing); else ~/.pgpass when present
            var home = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".pgpass");
            if (Environment.GetEnvironmentVariable("PGPASSFILE") is null && File.Exists(home)) b.Passfile = home;
        }
        foreach (var (k, v) in Parameters)
        {
            switch (k)
            {
                case "sslmode": b.SslMode = Enum.Parse<SslMode>(v.Replace("-", "", StringComparison.Ordinal), ignoreCase: true); break;
                case "connect_timeout": b.Timeout = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "application_name": b.ApplicationName = v; break;
                case "target_session_attrs": b.TargetSessionAttributes = v; break;
            }
        }
        return b.ConnectionString;
    }
}
