using System.Net.Sockets;
using Npgsql;
using Xcos.ML.Gallery;

namespace Xcos.ML.PgVector;

/// <summary>
/// Turns driver failures into one line a person can act on (<see cref="GalleryUnavailableException"/>): the server
/// unreachable (host and port), authentication refused, the connection lost mid-operation. Messages are built from the
/// location (which holds no password) and the server's own error text, never from the connection string.
/// </summary>
internal static class PgVectorErrors
{
    public static NpgsqlConnection Connect(NpgsqlDataSource source, PgVectorGalleryLocation location)
    {
        try { return source.OpenConnection(); }
        catch (Exception e) when (Translate(e, location, "connecting", connected: false, enrolling: false) is { } t) { throw t; }
    }

    public static T Run<T>(PgVectorGalleryLocation location, string doing, Func<T> work, bool connected = false, bool enrolling = false)
    {
        try { return work(); }
        catch (Exception e) when (Translate(e, location, doing, connected, enrolling) is { } t) { throw t; }
    }

    private static GalleryUnavailableException? Translate(Exception e, PgVectorGalleryLocation loc, string doing, bool connected, bool enrolling)
    {
        if (e is GalleryUnavailableException) return null;
        string who = loc.User ?? Environment.GetEnvironmentVariable("PGUSER") ?? Environment.UserName;
        if (e is PostgresException pe)
        {
            return pe.SqlState switch
            {
                PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification =>
                    new GalleryUnavailableException($"PostgreSQL at {loc.Endpoint} refused user '{who}' ({pe.MessageText}): set PGPASSWORD, or add a line {loc.Hosts[0].Host}:{loc.Hosts[0].Port}:{loc.Database}:{who}:PASSWORD to ~/.pgpass (mode 0600)", e),
                PostgresErrorCodes.InvalidCatalogName =>
                    new GalleryUnavailableException($"PostgreSQL at {loc.Endpoint} has no database '{loc.Database}': create it (CREATE DATABASE ...) or name another one in the URI", e),
                PostgresErrorCodes.InsufficientPrivilege =>
                    new GalleryUnavailableException($"{loc}: user '{who}' may not do this while {doing} ({pe.MessageText}); grant it rights on the tables '{loc.Table}' and '{loc.Table}_meta'", e),
                PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow =>
                    Lost(loc, doing, enrolling, e),
                _ when connected => null,   // a statement's own error (constraint, type): not a connection problem
                _ => new GalleryUnavailableException($"PostgreSQL at {loc.Endpoint} refused the connection: {pe.MessageText}", e),
            };
        }
        if (e is NpgsqlException { InnerException: PostgresException inner }) return Translate(inner, loc, doing, connected, enrolling);
        if (!connected && Find<FileNotFoundException>(e) is { } nf)
            return new GalleryUnavailableException($"the password file {nf.FileName} (PGPASSFILE) does not exist: create it (lines HOST:PORT:DB:USER:PASSWORD, mode 0600) or unset PGPASSFILE", e);
        if (!connected && Chain(e).Any(x => x is NpgsqlException && x.Message.Contains("No password", StringComparison.OrdinalIgnoreCase)))
            return new GalleryUnavailableException($"PostgreSQL at {loc.Endpoint} wants a password for user '{who}' and none was found: set PGPASSWORD, or add a line {loc.Hosts[0].Host}:{loc.Hosts[0].Port}:{loc.Database}:{who}:PASSWORD to ~/.pgpass (mode 0600)", e);
        if (e is NpgsqlException or IOException or SocketException or TimeoutException or ObjectDisposedException)
        {
            if (connected) return Lost(loc, doing, enrolling, e);
            var socket = Find<SocketException>(e);
            string why = socket?.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
                SocketError.TimedOut => "timed out",
                SocketError.NetworkUnreachable or SocketError.HostUnreachable => "no route to host",
                { } other => other.ToString(),
                null when Find<TimeoutException>(e) is not null => "timed out",
                null => "the connection closed during start-up",
            };
            return new GalleryUnavailableException($"cannot reach PostgreSQL at {loc.Endpoint} ({why}): is the server running and accepting TCP connections there?", e);
        }
        return null;
    }

    private static GalleryUnavailableException Lost(PgVectorGalleryLocation loc, string doing, bool enrolling, Exception e) =>
        new(enrolling
            ? $"the connection to PostgreSQL at {loc.Endpoint} was lost while {doing}: that photo may not be stored, every face stored before it is committed; run the same enrol again to finish (faces already stored are skipped)"
            : $"the connection to PostgreSQL at {loc.Endpoint} was lost while {doing}; nothing was changed by it: run the command again once the server is back", e)
        { ConnectionLost = true };

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException) yield return e;
    }

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException) if (e is T t) return t;
        return null;
    }
}
