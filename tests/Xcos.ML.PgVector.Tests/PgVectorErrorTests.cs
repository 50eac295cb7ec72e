using Xcos.ML.Gallery;

namespace Xcos.ML.PgVector.Tests;

/// <summary>
/// Failures a person can act on, each one line and without a password: server unreachable, password refused or
/// missing, no `vector` extension (native PostgreSQL 15 has none), connection lost when the server stops.
/// </summary>
[Collection(PgCollection.Name)]
public sealed class PgVectorErrorTests(PgliteServer pglite, NativePostgres native) : IDisposable
{
    private const string Secret = "uri-Secret-7f3a";
    private readonly string? _password = Environment.GetEnvironmentVariable("PGPASSWORD");
    private readonly string? _passfile = Environment.GetEnvironmentVariable("PGPASSFILE");
    private static readonly GalleryModelStamp Model = new("test-model", "sha256:00", 4, 3);

    private static GalleryUnavailableException Refused(string uri, GalleryOpenMode mode = GalleryOpenMode.ReadOnly)
    {
        var e = Assert.Throws<GalleryUnavailableException>(() => new PgVectorGalleryProvider().Open(uri, Model, mode).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain(Secret, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(NativePostgres.Password, e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void An_unreachable_server_is_named_by_host_and_port()
    {
        int port = PgServers.FreePort();
        Environment.SetEnvironmentVariable("PGPASSWORD", Secret);
        var e = Refused($"postgresql://ann:{Secret}@127.0.0.1:{port}/db?table=faces");
        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("connection refused", e.Message, StringComparison.Ordinal);
        Assert.False(e.ConnectionLost);
    }

    [NativePostgresFact]
    public void A_wrong_password_is_refused_and_says_where_the_password_comes_from()
    {
        Environment.SetEnvironmentVariable("PGPASSWORD", Secret);
        var e = Refused($"postgresql://{NativePostgres.User}@127.0.0.1:{native.Port}/postgres?table=faces");
        Assert.Contains($"refused user '{NativePostgres.User}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("PGPASSWORD", e.Message, StringComparison.Ordinal);
        Assert.Contains("~/.pgpass", e.Message, StringComparison.Ordinal);
    }

    [NativePostgresFact]
    public void No_password_at_all_says_where_to_put_one()
    {
        Environment.SetEnvironmentVariable("PGPASSWORD", null);
        var empty = Path.Combine(Directory.CreateTempSubdirectory("xcos-pgpass").FullName, "pgpass");
        File.WriteAllText(empty, "");
        Environment.SetEnvironmentVariable("PGPASSFILE", empty);
        var uri = $"postgresql://{NativePostgres.User}@127.0.0.1:{native.Port}/postgres?table=faces";
        Assert.Contains("wants a password", Refused(uri).Message, StringComparison.Ordinal);
        // a password file named but missing is said so (libpq would ignore it silently; the driver stops)
        var missing = Path.Combine(Path.GetTempPath(), "xcos-no-such-pgpass");
        Environment.SetEnvironmentVariable("PGPASSFILE", missing);
        Assert.Contains(missing, Refused(uri).Message, StringComparison.Ordinal);
    }

    [NativePostgresFact]
    public void A_database_without_pgvector_says_the_create_extension_it_needs_and_pgpass_is_read()
    {
        // the right password from a password file (not the environment) gets past authentication to the extension check
        Environment.SetEnvironmentVariable("PGPASSWORD", null);
        var pgpass = Path.Combine(Directory.CreateTempSubdirectory("xcos-pgpass").FullName, "pgpass");
        File.WriteAllText(pgpass, $"127.0.0.1:{native.Port}:*:{NativePostgres.User}:{NativePostgres.Password}\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(pgpass, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Environment.SetEnvironmentVariable("PGPASSFILE", pgpass);
        var uri = $"postgresql://{NativePostgres.User}@127.0.0.1:{native.Port}/postgres?table=faces";
        var e = Refused(uri, GalleryOpenMode.OpenOrCreate);
        Assert.Contains("CREATE EXTENSION vector;", e.Message, StringComparison.Ordinal);
        Assert.Contains("database 'postgres'", e.Message, StringComparison.Ordinal);
        Assert.Contains("CREATE EXTENSION vector;", Refused(uri).Message, StringComparison.Ordinal);
    }

    [PgliteFact]
    public void A_server_stopped_mid_run_gives_one_line_and_keeps_what_was_committed()
    {
        var dir = PgServers.PgliteDir()!;
        var (process, port) = PgliteServer.StartAt(dir, PgServers.FreePort());
        var uri = $"postgresql://postgres@127.0.0.1:{port}/postgres?table=stopped";
        using (process)
        {
            using var g = new PgVectorGalleryProvider().Open(uri, Model, GalleryOpenMode.OpenOrCreate);
            g.Enroll("ann", [1, 0, 0, 0], [1, 2, 3], "mem:ann");
            Assert.Equal(1, g.FaceCount);
            process.Kill(true);
            process.WaitForExit(10_000);
            var search = Assert.Throws<GalleryUnavailableException>(() => g.Search([1, 0, 0, 0], 3));
            Assert.DoesNotContain('\n', search.Message);
            Assert.Contains($"127.0.0.1:{port}", search.Message, StringComparison.Ordinal);
            var enrol = Assert.Throws<GalleryUnavailableException>(() => g.Enroll("bob", [0, 1, 0, 0], [1, 2, 3], "mem:bob"));
            Assert.Contains("run the same enrol again", enrol.Message, StringComparison.Ordinal);
        }
        Assert.Contains("connection refused", Refused(uri).Message, StringComparison.Ordinal);
        _ = pglite;
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("PGPASSWORD", _password);
        Environment.SetEnvironmentVariable("PGPASSFILE", _passfile);
    }
}
