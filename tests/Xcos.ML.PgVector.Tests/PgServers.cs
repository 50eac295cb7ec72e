using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Xcos.ML.PgVector.Tests;

/// <summary>
/// Where the test servers come from. PGlite: <c>$XCOS_PGLITE</c> (a folder holding node_modules/@electric-sql/pglite-socket,
/// set by .ci/run, so CI fails rather than skips), else the repository's .pglite. Native PostgreSQL: <c>$XCOS_POSTGRES_BIN</c>
/// (set by .ci/run), else /usr/lib/postgresql/*/bin.
/// </summary>
internal static class PgServers
{
    public const string NoPglite = "PGlite not found: set XCOS_PGLITE, or run `npm install --prefix .pglite @electric-sql/pglite-socket@0.2.17 @electric-sql/pglite-pgvector@0.0.15` (needs node)";
    public const string NoPostgres = "native PostgreSQL not found: set XCOS_POSTGRES_BIN, or `apt-get install postgresql-15`";

    public static string? PgliteDir()
    {
        var env = Environment.GetEnvironmentVariable("XCOS_PGLITE");
        if (!string.IsNullOrEmpty(env)) return env;   // required: a missing install fails the tests
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln")))
            {
                var dir = Path.Combine(d.FullName, ".pglite");
                return File.Exists(ServerScript(dir)) && OnPath("node") ? dir : null;
            }
        return null;
    }

    public static string ServerScript(string dir) => Path.Combine(dir, "node_modules", "@electric-sql", "pglite-socket", "dist", "scripts", "server.js");

    public static string? PostgresBin()
    {
        var env = Environment.GetEnvironmentVariable("XCOS_POSTGRES_BIN");
        if (!string.IsNullOrEmpty(env)) return env;
        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb"))).Order(StringComparer.Ordinal).LastOrDefault()
            : null;
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static bool Accepts(int port)
    {
        try
        {
            using var c = new TcpClient();
            return c.ConnectAsync(IPAddress.Loopback, port).Wait(500) && c.Connected;
        }
        catch (AggregateException) { return false; }
        catch (SocketException) { return false; }
    }

    private static bool OnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, exe)));

    /// <summary>Runs a command to completion; throws with its output when it fails.</summary>
    public static string Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2))) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)}"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stdout.Result} {stderr.Result}");
        return stdout.Result;
    }
}

/// <summary>A fact that needs PGlite (node and the npm packages); skipped with a clear message without them, unless XCOS_PGLITE is set.</summary>
public sealed class PgliteFactAttribute : FactAttribute
{
    public PgliteFactAttribute() { if (PgServers.PgliteDir() is null) Skip = PgServers.NoPglite; }
}

/// <summary>A fact that needs PGlite, the real face models and ../shared/dev-faces.</summary>
public sealed class PgliteDevFacesFactAttribute : FactAttribute
{
    public PgliteDevFacesFactAttribute()
    {
        if (PgServers.PgliteDir() is null) Skip = PgServers.NoPglite;
        else if (RealFaces.ModelsDir() is null) Skip = RealFaces.NoModels;
        else if (DevFaces.Dir() is null) Skip = "shared/dev-faces not found";
    }
}

/// <summary>A fact that needs Debian's native PostgreSQL (initdb, pg_ctl); skipped without it, unless XCOS_POSTGRES_BIN is set.</summary>
public sealed class NativePostgresFactAttribute : FactAttribute
{
    public NativePostgresFactAttribute() { if (PgServers.PostgresBin() is null) Skip = PgServers.NoPostgres; }
}

/// <summary>
/// A PGlite server (PostgreSQL 18 + pgvector, WebAssembly) on a free port, started on first use (5-20 s) and stopped
/// with the fixture. Each test names its own table, so tests share one server without seeing each other's faces.
/// </summary>
public sealed class PgliteServer : IDisposable
{
    private readonly Lazy<(Process Process, int Port)> _server;
    private int _tables;

    public PgliteServer() => _server = new(Start);

    public int Port => _server.Value.Port;

    /// <summary>A URI of a new table on this server.</summary>
    public string NewGallery(string prefix = "t") => $"postgresql://postgres@127.0.0.1:{Port}/postgres?table={prefix}_{Interlocked.Increment(ref _tables)}_{Environment.ProcessId}";

    private static (Process, int) Start()
    {
        var dir = PgServers.PgliteDir() ?? throw new InvalidOperationException(PgServers.NoPglite);
        var script = PgServers.ServerScript(dir);
        if (!File.Exists(script)) throw new FileNotFoundException($"XCOS_PGLITE={dir}: no {script}; install it as .ci/run does");
        return StartAt(dir, PgServers.FreePort());
    }

    /// <summary>Starts a PGlite server on <paramref name="port"/> and waits until it accepts connections.</summary>
    internal static (Process, int) StartAt(string dir, int port)
    {
        var psi = new ProcessStartInfo("node") { WorkingDirectory = dir, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { PgServers.ServerScript(dir), "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-e", "@electric-sql/pglite-pgvector:vector", "-m", "4" })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var log = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var until = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < until)
        {
            if (p.HasExited) throw new InvalidOperationException($"pglite-server exited {p.ExitCode}: {log}");
            lock (log) if (log.ToString().Contains("listening", StringComparison.Ordinal)) return (p, port);
            Thread.Sleep(200);
        }
        p.Kill(true);
        throw new TimeoutException($"pglite-server did not listen on {port} within 90 s: {log}");
    }

    public void Dispose()
    {
        if (!_server.IsValueCreated) return;
        var p = _server.Value.Process;
        if (!p.HasExited) { p.Kill(true); p.WaitForExit(10_000); }
        p.Dispose();
    }
}

/// <summary>
/// A throwaway native PostgreSQL cluster (Debian's postgresql-15, no pgvector) in a temporary folder, password
/// authentication (scram) on TCP, started on first use: the server for a refused password and a missing extension.
/// </summary>
public sealed class NativePostgres : IDisposable
{
    public const string User = "xcos_admin";
    public const string Password = "right-horse-battery";
    private readonly Lazy<(string Dir, int Port)> _cluster;

    public NativePostgres() => _cluster = new(Start);

    public int Port => _cluster.Value.Port;

    private static (string, int) Start()
    {
        var bin = PgServers.PostgresBin() ?? throw new InvalidOperationException(PgServers.NoPostgres);
        var dir = Directory.CreateTempSubdirectory("xcos-pg-").FullName;
        var pwfile = Path.Combine(dir, "pw");
        File.WriteAllText(pwfile, Password + "\n");
        int port = PgServers.FreePort();
        var data = Path.Combine(dir, "data");
        // initdb refuses root: run the server as the postgres user then
        bool root = Environment.UserName == "root";
        if (root) PgServers.Exec("chown", "-R", "postgres", dir);
        string[] As(string exe, params string[] a) => root ? ["-u", "postgres", "--", Path.Combine(bin, exe), .. a] : [.. a];
        string Run(string exe) => root ? "runuser" : Path.Combine(bin, exe);
        PgServers.Exec(Run("initdb"), As("initdb", "-D", data, "-U", User, "--pwfile", pwfile, "--auth", "scram-sha-256", "-E", "UTF8", "--no-instructions"));
        PgServers.Exec(Run("pg_ctl"), As("pg_ctl", "-D", data, "-l", Path.Combine(dir, "log"), "-w", "-t", "60",
            "-o", $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"));
        return (dir, port);
    }

    public void Dispose()
    {
        if (!_cluster.IsValueCreated) return;
        var (dir, _) = _cluster.Value;
        var bin = PgServers.PostgresBin()!;
        bool root = Environment.UserName == "root";
        try
        {
            if (root) PgServers.Exec("runuser", "-u", "postgres", "--", Path.Combine(bin, "pg_ctl"), "-D", Path.Combine(dir, "data"), "-m", "immediate", "-w", "stop");
            else PgServers.Exec(Path.Combine(bin, "pg_ctl"), "-D", Path.Combine(dir, "data"), "-m", "immediate", "-w", "stop");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

[CollectionDefinition(Name)]
public sealed class PgCollection : ICollectionFixture<PgliteServer>, ICollectionFixture<NativePostgres>
{
    public const string Name = "postgresql servers";
}
