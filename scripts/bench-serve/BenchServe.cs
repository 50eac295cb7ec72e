#:project ../../src/Xcos.ML/Xcos.ML.csproj
#:property ManagePackageVersionsCentrally=false
#:property PublishAot=false
// Load on `xcos serve` (loopback only): N verify requests of dev-faces pairs at each concurrency, each level bounded
// by a time cap; latency percentiles, requests/s, answers by status, the server's RSS before and after each level;
// then the in-process core (VerifyMany on the same pairs, one pair a call, from the same number of threads as the
// concurrency-4 level, ONNX Runtime on 1 thread a call as the server's default) for the ratio.
// usage: dotnet run BenchServe.cs -- DEV_FACES_DIR MODELS_DIR XCOS_DLL N CAP_SECONDS OUT_JSON
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xcos.ML.Images;
using Xcos.ML.Verification;

string devFaces = args[0], models = args[1], xcos = args[2], outJson = args[5];
int n = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
double cap = double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
var pairs = File.ReadAllLines(Path.Combine(devFaces, "pairs.tsv")).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')).Select(f => (f[0], f[1])).ToArray();
var bytes = pairs.SelectMany(p => new[] { p.Item1, p.Item2 }).Distinct().ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(devFaces, f)));
Console.WriteLine($"{pairs.Length} pairs of {bytes.Count} photos; {n} requests a level, at most {cap} s a level");

var listener = new TcpListener(IPAddress.Loopback, 0);
listener.Start();
int port = ((IPEndPoint)listener.LocalEndpoint).Port;
listener.Stop();
var url = $"http://127.0.0.1:{port}";
var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
// 4 workers: the thread count of the core it is compared with; no rate limit, which would answer 429 before the queue fills
foreach (var a in new[] { xcos, "serve", "--urls", url, "--rate-limit", "0", "--workers", "4" }) psi.ArgumentList.Add(a);
psi.Environment["XCOS_MODELS"] = models;
using var server = Process.Start(psi)!;
_ = server.StandardOutput.ReadToEndAsync();
_ = server.StandardError.ReadToEndAsync();
long Rss() => long.Parse(File.ReadAllLines($"/proc/{server.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;

using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(120) };
for (var until = DateTime.UtcNow.AddSeconds(120); ; await Task.Delay(200))
{
    if (DateTime.UtcNow > until) throw new TimeoutException("server not ready");
    try { if ((await client.GetAsync("/readyz")).IsSuccessStatusCode) break; } catch (HttpRequestException) { }
}
MultipartFormDataContent Form(int i)
{
    var (a, b) = pairs[i % pairs.Length];
    var f = new MultipartFormDataContent();
    f.Add(new ByteArrayContent(bytes[a]), "image1", Path.GetFileName(a));
    f.Add(new ByteArrayContent(bytes[b]), "image2", Path.GetFileName(b));
    return f;
}
// warm-up: every pair once
for (int i = 0; i < pairs.Length; i++) (await client.PostAsync("/v1/verify", Form(i))).Dispose();

var levels = new List<object>();
double serverRps4 = 0;
foreach (int c in new[] { 1, 4, 16, 64 })
{
    long rssBefore = Rss();
    var latencies = new List<double>();
    var statuses = new SortedDictionary<string, int>();
    int next = -1;
    var clock = Stopwatch.StartNew();
    async Task Worker()
    {
        while (true)
        {
            int i = Interlocked.Increment(ref next);
            if (i >= n || clock.Elapsed.TotalSeconds > cap) return;
            var t = Stopwatch.StartNew();
            string key;
            try
            {
                using var r = await client.PostAsync("/v1/verify", Form(i));
                await r.Content.ReadAsByteArrayAsync();
                key = ((int)r.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception e) { key = "error " + e.GetType().Name; }
            lock (statuses)
            {
                statuses[key] = statuses.GetValueOrDefault(key) + 1;
                if (key == "200") latencies.Add(t.Elapsed.TotalMilliseconds);
            }
        }
    }
    await Task.WhenAll(Enumerable.Range(0, c).Select(_ => Task.Run(Worker)));
    double seconds = clock.Elapsed.TotalSeconds;
    long rssAfter = Rss();
    latencies.Sort();
    double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
    int total = statuses.Values.Sum();
    int ok = statuses.GetValueOrDefault("200");
    if (c == 4) serverRps4 = ok / seconds;
    Console.WriteLine($"c={c,-3} {total} requests in {seconds:F1} s: {ok / seconds:F2} ok/s, p50 {P(0.5):F0} ms, p95 {P(0.95):F0} ms, p99 {P(0.99):F0} ms; " +
        $"{string.Join(", ", statuses.Select(kv => $"{kv.Key}: {kv.Value}"))}; RSS {rssBefore} -> {rssAfter} MiB");
    levels.Add(new { concurrency = c, requests = total, seconds, ok_per_second = ok / seconds, p50_ms = P(0.5), p95_ms = P(0.95), p99_ms = P(0.99), statuses, rss_before_mib = rssBefore, rss_after_mib = rssAfter });
}
long rssEnd = Rss();
using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
server.WaitForExit(60_000);
Console.WriteLine($"server exit code {server.ExitCode}");

// the core, in process, with the server stopped: the same pairs, one pair a VerifyMany call, 4 threads
using var core = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, IntraOpThreads = 1, BatchSize = 2 });
for (int i = 0; i < pairs.Length; i++) core.VerifyMany([pairs[i]], id => ImageIO.Load(bytes[id]));
int coreNext = -1, coreDone = 0;
var coreClock = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
{
    while (true)
    {
        int i = Interlocked.Increment(ref coreNext);
        if (i >= n || coreClock.Elapsed.TotalSeconds > cap) return;
        var r = core.VerifyMany([pairs[i % pairs.Length]], id => ImageIO.Load(bytes[id]), keepFaces: true)[0];
        if (r.IsOk) Interlocked.Increment(ref coreDone);
    }
})));
double coreRps = coreDone / coreClock.Elapsed.TotalSeconds;
Console.WriteLine($"core, 4 threads: {coreDone} pairs in {coreClock.Elapsed.TotalSeconds:F1} s: {coreRps:F2} pairs/s; server at c=4 / core = {serverRps4 / coreRps:F3}");
File.WriteAllText(outJson, JsonSerializer.Serialize(new
{
    date = DateTime.UtcNow, machine = $"{Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Trim()}",
    requests_per_level = n, cap_seconds = cap, levels, rss_end_mib = rssEnd, server_exit_code = server.ExitCode,
    core_pairs_per_second = coreRps, server_c4_over_core = serverRps4 / coreRps,
}, new JsonSerializerOptions { WriteIndented = true }));
