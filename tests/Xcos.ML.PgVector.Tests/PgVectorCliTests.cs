using System.Diagnostics;
using System.Text.Json;
using Xcos.ML.Gallery;
using Xunit.Abstractions;

namespace Xcos.ML.PgVector.Tests;

/// <summary>
/// The `xcos` CLI against a database gallery (separate processes, as users run it): enrol then identify --probes gives
/// the file gallery's rank-1 and a second enrol adds no row; XCOS_GALLERY names the gallery; `gallery copy` both ways;
/// two enrolling processes both land; kill -9 mid-enrol leaves only whole faces and a rerun finishes; a server
/// stopped mid-run is one line on stderr with no password.
/// </summary>
[Collection(PgCollection.Name)]
public sealed class PgVectorCliTests(PgliteServer server, ITestOutputHelper output)
{
    private const string UriSecret = "uri-Secret-91c2", EnvSecret = "env-Secret-5d0e";

    private static Dictionary<string, string> Env(params (string, string)[] extra)
    {
        var env = new Dictionary<string, string> { ["XCOS_MODELS"] = RealFaces.ModelsDir()!, ["PGPASSWORD"] = EnvSecret };
        foreach (var (k, v) in extra) env[k] = v;
        return env;
    }

    private static Process Start(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "xcos.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("XCOS_GALLERY");
        foreach (var (k, v) in env) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    private static (int Code, string Out, string Err) Run(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        using var p = Start(env, args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("xcos " + string.Join(' ', args)); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static JsonElement Json(string stdout) => JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;

    /// <summary>An ImageFolder of the first <paramref name="perPerson"/> photos of some dev-faces people (symlinks), and a probe list of the rest.</summary>
    private static (string Images, string Probes) Split(int perPerson, int people = 10, int skipPeople = 0, int probesPerPerson = 3)
    {
        var root = Path.Combine(DevFaces.Root, "photos");
        var dir = Directory.CreateTempSubdirectory("xcos-pgcli").FullName;
        var images = Path.Combine(dir, "enrol");
        var rows = new List<string>();
        foreach (var person in Directory.GetDirectories(root).Order(StringComparer.Ordinal).Skip(skipPeople).Take(people))
        {
            var who = Path.GetFileName(person);
            Directory.CreateDirectory(Path.Combine(images, who));
            var photos = Directory.GetFiles(person).Order(StringComparer.Ordinal).ToList();
            foreach (var p in photos.Take(perPerson)) File.CreateSymbolicLink(Path.Combine(images, who, Path.GetFileName(p)), p);
            rows.AddRange(photos.Skip(perPerson).Take(probesPerPerson).Select(p => $"{p}\t{who}"));
        }
        var probes = Path.Combine(dir, "probes.tsv");
        File.WriteAllLines(probes, ["file\tidentity", .. rows]);
        return (images, probes);
    }

    private static int Count(string uri)
    {
        using var g = new PgVectorGalleryProvider().Open(uri, null, GalleryOpenMode.ReadOnly);
        return g.FaceCount;
    }

    [PgliteDevFacesFact]
    public void Enrol_then_identify_probes_through_the_database_gives_the_file_gallerys_rank1_and_a_second_enrol_adds_no_row()
    {
        var (images, probes) = Split(perPerson: 2);
        var uri = server.NewGallery("cli");
        var file = Path.Combine(Path.GetDirectoryName(images)!, "dev.gallery");
        var env = Env();
        var enrolDb = Run(env, "enroll", "--gallery", uri, "--images", images, "--json");
        Assert.True(enrolDb.Code == 0, enrolDb.Err);
        int faces = Json(enrolDb.Out).GetProperty("faces").GetInt32();
        Assert.Equal(Json(enrolDb.Out).GetProperty("enrolled").GetInt32(), faces);
        var again = Run(env, "enroll", "--gallery", uri, "--images", images, "--json");
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal(faces, Json(again.Out).GetProperty("faces").GetInt32());
        Assert.Equal(faces, Count(uri));
        Assert.Equal(0, Run(env, "enroll", "--gallery", file, "--images", images).Code);
        var byDb = Run(env, "identify", "--gallery", uri, "--probes", probes, "--json");
        var byFile = Run(env, "identify", "--gallery", file, "--probes", probes, "--json");
        Assert.True(byDb.Code == 0, byDb.Err);
        double rank1Db = Json(byDb.Out).GetProperty("rank1").GetDouble(), rank1File = Json(byFile.Out).GetProperty("rank1").GetDouble();
        output.WriteLine($"xcos identify --probes: rank-1 database {rank1Db:F4}, file {rank1File:F4} ({faces} faces enrolled)");
        Assert.Equal(rank1File, rank1Db, 2);
        // XCOS_GALLERY names the gallery when --gallery is absent; a password written in the URI is dropped, never printed
        var photo = File.ReadAllLines(probes)[1].Split('\t')[0];
        var withPassword = uri.Replace("postgres@", $"postgres:{UriSecret}@", StringComparison.Ordinal);
        var one = Run(Env(("XCOS_GALLERY", withPassword)), "identify", photo, "--json");
        Assert.True(one.Code == 0, one.Err);
        Assert.DoesNotContain(UriSecret, one.Out + one.Err, StringComparison.Ordinal);
        Assert.Contains("ignored", one.Err, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllLines(probes)[1].Split('\t')[1], Json(one.Out).GetProperty("matches")[0].GetProperty("identity").GetString());
        // removal through the database
        var who = Path.GetFileName(Directory.GetDirectories(images)[0]);
        var removed = Run(env, "enroll", "--gallery", uri, "--remove", who, "--json");
        Assert.True(removed.Code == 0, removed.Err);
        Assert.Equal(faces - Json(removed.Out).GetProperty("removed").GetInt32(), Count(uri));
    }

    [PgliteDevFacesFact]
    public void Gallery_copy_moves_a_gallery_file_to_the_database_and_back()
    {
        var (images, _) = Split(perPerson: 1, people: 4);
        var dir = Path.GetDirectoryName(images)!;
        var file = Path.Combine(dir, "a.gallery");
        var env = Env();
        Assert.Equal(0, Run(env, "enroll", "--gallery", file, "--images", images).Code);
        var uri = server.NewGallery("copy");
        var there = Run(env, "gallery", "copy", file, uri, "--json");
        Assert.True(there.Code == 0, there.Err);
        var back = Path.Combine(dir, "b.gallery");
        var home = Run(env, "gallery", "copy", uri, back, "--json");
        Assert.True(home.Code == 0, home.Err);
        using var a = FaceGalleries.Open(file, null, GalleryOpenMode.ReadOnly);
        using var b = FaceGalleries.Open(back, null, GalleryOpenMode.ReadOnly);
        Assert.Equal(a.Model, b.Model);
        Assert.Equal(a.Identities, b.Identities);
        foreach (var who in a.Identities)
        {
            var fa = a.FacesOf(who).Single();
            var fb = b.FacesOf(who).Single();
            Assert.Equal(fa.Embedding, fb.Embedding);
            Assert.Equal(fa.Code, fb.Code);
            Assert.Equal(fa.SourceFile, fb.SourceFile);
        }
        // copying again adds nothing; a destination of another model is refused
        Assert.Equal(0, Json(Run(env, "gallery", "copy", file, uri, "--json").Out).GetProperty("added").GetInt32());
        var other = server.NewGallery("other");
        using (new PgVectorGalleryProvider().Open(other, new GalleryModelStamp("another-model", "sha256:11", 512, a.Model.CodeLength), GalleryOpenMode.OpenOrCreate)) { }
        var refused = Run(env, "gallery", "copy", file, other);
        Assert.Equal(1, refused.Code);
        Assert.Contains("another-model", refused.Err, StringComparison.Ordinal);
        Assert.Contains(a.Model.Name, refused.Err, StringComparison.Ordinal);
    }

    [PgliteDevFacesFact]
    public void Two_processes_enrolling_at_once_both_land()
    {
        var (first, _) = Split(perPerson: 2, people: 3);
        var (second, _) = Split(perPerson: 2, people: 3, skipPeople: 3);
        var uri = server.NewGallery("two");
        var env = Env();
        using var a = Start(env, "enroll", "--gallery", uri, "--images", first, "--json");
        using var b = Start(env, "enroll", "--gallery", uri, "--images", second, "--json");
        var outs = new[] { a, b }.Select(p => (p, Out: p.StandardOutput.ReadToEndAsync(), Err: p.StandardError.ReadToEndAsync())).ToList();
        foreach (var (p, o, e) in outs)
        {
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)));
            Assert.True(p.ExitCode == 0, e.Result);
        }
        int enrolled = outs.Sum(x => Json(x.Out.Result).GetProperty("enrolled").GetInt32());
        Assert.Equal(enrolled, Count(uri));
        using var g = new PgVectorGalleryProvider().Open(uri, null, GalleryOpenMode.ReadOnly);
        Assert.Equal(6, g.Identities.Count);
    }

    [PgliteDevFacesFact]
    public void Kill_9_mid_enrol_leaves_only_whole_faces_and_a_rerun_finishes()
    {
        // all 100 photos: 60 were enrolled (two batches of 32) before the progress line passed 5 % on an idle machine
        var (images, _) = Split(perPerson: 10, people: 10);
        var uri = server.NewGallery("kill");
        var env = Env();
        using (var p = Start(env, "enroll", "--gallery", uri, "--images", images))
        {
            var err = WhenProgress(p, 5);
            Assert.False(p.HasExited, "the enrolment ended before it could be killed: " + err);
            p.Kill();   // SIGKILL: no handler, no cleanup
            p.WaitForExit();
        }
        using (var g = new PgVectorGalleryProvider().Open(uri, null, GalleryOpenMode.ReadOnly))
        {
            int n = g.FaceCount;
            Assert.InRange(n, 3, 99);
            var faces = g.Identities.SelectMany(g.FacesOf).ToList();
            Assert.Equal(n, faces.Count);
            Assert.All(faces, f => Assert.Equal((g.Model.EmbeddingDim, g.Model.CodeLength), (f.Embedding.Length, f.Code.Length)));
            output.WriteLine($"killed after {n} committed faces");
        }
        var rerun = Run(env, "enroll", "--gallery", uri, "--images", images, "--json");
        Assert.True(rerun.Code == 0, rerun.Err);
        Assert.Equal(Json(rerun.Out).GetProperty("enrolled").GetInt32(), Count(uri));
    }

    [PgliteDevFacesFact]
    public void A_server_stopped_mid_enrol_and_before_identify_is_one_line_without_a_password()
    {
        var (images, probes) = Split(perPerson: 10);
        var (process, port) = PgliteServer.StartAt(PgServers.PgliteDir()!, PgServers.FreePort());
        var uri = $"postgresql://postgres:{UriSecret}@127.0.0.1:{port}/postgres?table=stop";
        var env = Env();
        using (process)
        using (var p = Start(env, "enroll", "--gallery", uri, "--images", images))
        {
            var err = WhenProgress(p, 3);
            Assert.False(p.HasExited, "the enrolment ended before the server could be stopped: " + err);
            process.Kill(true);
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)));
            p.WaitForExit();   // drains the redirected stderr
            Assert.Equal(1, p.ExitCode);
            output.WriteLine(err.ToString());
            // progress lines aside, the failure is one line: where, what was kept, how to finish
            var errors = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("xcos:", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, errors.Count);   // the warning about the URI's password, then the failure
            Assert.Contains("ignored", errors[0], StringComparison.Ordinal);
            Assert.Contains($"127.0.0.1:{port}", errors[1], StringComparison.Ordinal);
            Assert.Contains("run the same enrol again", errors[1], StringComparison.Ordinal);
            Assert.DoesNotContain(UriSecret, err.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(EnvSecret, err.ToString(), StringComparison.Ordinal);
        }
        var identify = Run(env, "identify", "--gallery", uri, "--probes", probes);
        var idLines = identify.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, identify.Code);
        Assert.InRange(idLines.Length, 1, 3);
        Assert.Contains($"cannot reach PostgreSQL at 127.0.0.1:{port}", idLines[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(UriSecret, identify.Err + identify.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(EnvSecret, identify.Err + identify.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// Collects stderr and returns once the progress bar shows <paramref name="percent"/>% (photos committed), or the process
    /// ended. Watching the process's own output, not the database, keeps the test to one client of the server.
    /// </summary>
    private static System.Text.StringBuilder WhenProgress(Process p, int percent)
    {
        var err = new System.Text.StringBuilder();
        int seen = 0;
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (err) err.AppendLine(e.Data);
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(e.Data, @"(\d+)%"))
                if (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) is var v and < 100) Interlocked.Exchange(ref seen, Math.Max(seen, v));
        };
        p.BeginErrorReadLine();
        var until = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < until && !p.HasExited && Volatile.Read(ref seen) < percent) Thread.Sleep(50);
        return err;
    }
}
