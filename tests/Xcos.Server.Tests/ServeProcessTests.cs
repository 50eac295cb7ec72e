using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Xcos.ML.Gallery;

namespace Xcos.Server.Tests;

/// <summary>The real `xcos serve` process: the bind rule, and SIGTERM in the middle of a burst of requests.</summary>
public sealed class ServeProcessTests
{
    private static string CliDll => typeof(ServeProcessTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "XcosCliDll").Value!;

    private static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XCOS_MODELS"] = RealFaces.ModelsDir() ?? "";
        return Process.Start(psi)!;
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [DevFacesFact]
    public async Task ListeningBeyondLoopbackWithoutAnApiKeyIsRefusedInOneLine()
    {
        using var p = Start("serve", "--urls", $"http://0.0.0.0:{FreePort()}");
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "xcos serve did not exit");
        Assert.Equal(2, p.ExitCode);
        var line = (await stderr).Trim();
        Assert.Single(line.Split('\n'));
        Assert.Contains("0.0.0.0", line, StringComparison.Ordinal);
        Assert.Contains("--api-key-file", line, StringComparison.Ordinal);
    }

    [DevFacesFact]
    public async Task SigtermDuringABurstFinishesEveryAcceptedRequestAndKeepsEveryEnrolment()
    {
        var folder = Directory.CreateTempSubdirectory("xcos-serve-term-").FullName;
        try
        {
            var gallery = Path.Combine(folder, "people.gallery");
            int port = FreePort();
            var url = $"http://127.0.0.1:{port}";
            using var server = Start("serve", "--urls", url, "--gallery", gallery, "--rate-limit", "0", "--queue-limit", "32", "--workers", "2");
            var stdout = server.StandardOutput.ReadToEndAsync();
            var stderr = server.StandardError.ReadToEndAsync();
            using var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(120) };
            await WaitReady(client, server, stderr);

            var photos = Directory.GetFiles(Path.Combine(DevFaces.Root, "photos"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            var pairs = DevFaces.Pairs();
            var requests = new List<Task<(string Kind, string Name, HttpStatusCode Status, string Body)>>();
            for (int i = 0; i < 8; i++)
            {
                var name = $"person {i}";
                var form = Forms.Files(("image", Path.GetFileName(photos[i * 9]), File.ReadAllBytes(photos[i * 9])));
                form.Add(new StringContent(name), "identity");
                requests.Add(Send(client, "enroll", name, "/v1/enroll", form));
                var p = pairs[i];
                requests.Add(Send(client, "verify", p.ImagePath1, "/v1/verify", Forms.Pair(p.ImagePath1, p.ImagePath2)));
            }
            // signal once the server holds a good part of the burst (queued or running), well under its queue limit
            var until = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < until && Pending(await client.GetStringAsync("/metrics")) < 6 && !requests.All(t => t.IsCompleted)) await Task.Delay(20);
            Assert.False(requests.All(t => t.IsCompleted), "the burst finished before the signal; nothing was in flight");
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();

            // no reset, no 5xx: every request sent before the signal gets its answer
            var answers = await Task.WhenAll(requests);
            Assert.All(answers, a => Assert.True(a.Status == HttpStatusCode.OK, $"{a.Kind} {a.Name}: {(int)a.Status} {a.Body}"));
            Assert.True(server.WaitForExit(60_000), "xcos serve did not stop after SIGTERM");
            Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}: {await stderr}");
            await stdout;

            // the gallery reopens with every enrolment that was answered 200
            using var file = FaceGallery.Open(gallery, null, new FaceGalleryOptions { ReadOnly = true });
            var enrolled = answers.Where(a => a.Kind == "enroll").Select(a => a.Name).Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(enrolled, file.Identities.ToArray());
            Assert.Equal(enrolled.Length, file.FaceCount);
            Assert.Null(file.RecoveredTail);
        }
        finally { Directory.Delete(folder, true); }
    }

    private static async Task<(string, string, HttpStatusCode, string)> Send(HttpClient client, string kind, string name, string path, HttpContent content)
    {
        using var r = await client.PostAsync(path, content);
        return (kind, name, r.StatusCode, await r.Content.ReadAsStringAsync());
    }

    private static async Task WaitReady(HttpClient client, Process server, Task<string> stderr)
    {
        var until = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < until)
        {
            if (server.HasExited) Assert.Fail($"xcos serve exited with {server.ExitCode}: {await stderr}");
            try
            {
                using var r = await client.GetAsync("/readyz");
                if (r.IsSuccessStatusCode && JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("ready").GetBoolean()) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(200);
        }
        Assert.Fail("xcos serve was not ready within 90 s");
    }

    // requests the server holds: waiting for a worker plus running
    private static long Pending(string metrics) =>
        metrics.Split('\n').Where(l => l.StartsWith("xcos_queue_length ", StringComparison.Ordinal) || l.StartsWith("xcos_inflight_requests ", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture));
}
