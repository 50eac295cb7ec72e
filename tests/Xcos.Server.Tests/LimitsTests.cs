using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Xcos.Server.Tests;

/// <summary>A server with an API key, one worker and no queue, and a small per-client rate.</summary>
public sealed class LimitedServerFactory : ServerFactory
{
    public const string Key = "0123456789abcdef-test-key";
    private readonly string _keyFile = Path.Combine(Path.GetTempPath(), $"xcos-serve-key-{Guid.NewGuid():N}.txt");

    public LimitedServerFactory() => File.WriteAllText(_keyFile, Key + "\n");

    protected override IEnumerable<KeyValuePair<string, string>> Settings() =>
    [
        new("Xcos:ApiKeyFile", _keyFile), new("Xcos:Workers", "1"), new("Xcos:QueueLimit", "0"),
        new("Xcos:RateLimitPerSecond", "1"), new("Xcos:RateLimitBurst", "20"),
    ];

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        File.Delete(_keyFile);
    }
}

/// <summary>The API key, the bounded queue's 503 and the rate limiter's 429, each with its JSON body.</summary>
public sealed class LimitsTests(LimitedServerFactory factory) : IClassFixture<LimitedServerFactory>
{
    private static async Task<(HttpStatusCode Status, string? RetryAfter, JsonElement Body)> Read(HttpResponseMessage r)
    {
        using (r) return (r.StatusCode, r.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement);
    }

    [DevFacesFact]
    public async Task TheApiNeedsTheKeyButTheProbesAndThePageDoNot()
    {
        using var client = factory.CreateClient();
        var (status, _, body) = await Read(await client.GetAsync("/v1/info"));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", body.GetProperty("error").GetString());
        client.DefaultRequestHeaders.Add("X-Api-Key", "wrong-key-of-enough-length");
        Assert.Equal(HttpStatusCode.Unauthorized, (await Read(await client.GetAsync("/metrics"))).Status);
        using var anonymous = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/")).StatusCode);
    }

    [DevFacesFact]
    public async Task AFullQueueAnswers503WithRetryAfterAtOnce()
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", LimitedServerFactory.Key);
        var p = DevFaces.Pairs()[0];
        // one worker, no waiting room: of six at once, the ones that arrive while one runs are refused
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () => await Read(await client.PostAsync("/v1/verify", Forms.Pair(p.ImagePath1, p.ImagePath2))))));
        Assert.Contains(answers, a => a.Status == HttpStatusCode.OK);
        var refused = answers.Where(a => a.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, a =>
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, a.Status);
            Assert.Equal("queue_full", a.Body.GetProperty("error").GetString());
            Assert.True(int.Parse(a.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        });
    }

    [DevFacesFact]
    public async Task OneClientPastItsRateGets429WithRetryAfter()
    {
        using var client = factory.CreateClient();
        // the bearer form of the key: this client's bucket is not the one the X-Api-Key tests use
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LimitedServerFactory.Key);
        var answers = new List<(HttpStatusCode Status, string? RetryAfter, JsonElement Body)>();
        for (int i = 0; i < 26; i++) answers.Add(await Read(await client.GetAsync("/v1/info")));
        Assert.True(answers.Count(a => a.Status == HttpStatusCode.OK) is >= 20 and <= 22, string.Join(",", answers.Select(a => (int)a.Status)));
        var limited = answers.Where(a => a.Status == HttpStatusCode.TooManyRequests).ToList();
        Assert.True(limited.Count >= 4);
        Assert.All(limited, a => Assert.Equal("rate_limited", a.Body.GetProperty("error").GetString()));
        Assert.NotNull(limited[0].RetryAfter);
    }
}
