using System.Net;
using System.Text.Json;
using Xcos.ML.Verification;

namespace Xcos.Server.Tests;

/// <summary>/v1/verify on the real models and dev-faces photos, against the verification core `xcos verify` runs.</summary>
public sealed class VerifyEndpointTests(ServerFactory factory) : IClassFixture<ServerFactory>
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private async Task<(HttpStatusCode Status, JsonElement Body)> Post(HttpContent content, string url = "/v1/verify")
    {
        using var client = factory.CreateClient();
        using var response = await client.PostAsync(url, content);
        return (response.StatusCode, Json(await response.Content.ReadAsStringAsync()));
    }

    [DevFacesFact]
    public async Task SameAndDifferentPairsAgreeWithTheVerifyCore()
    {
        var all = DevFaces.Pairs();
        var pairs = all.Where(p => p.Label).Take(2).Concat(all.Where(p => !p.Label).Take(2)).ToList();
        // the verifier `xcos verify` builds: the CLI's defaults, its own sessions
        using var core = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = RealFaces.ModelsDir() });
        foreach (var p in pairs)
        {
            var expected = core.Verify(p.ImagePath1, p.ImagePath2);
            var (status, body) = await Post(Forms.Pair(p.ImagePath1, p.ImagePath2));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("ok", body.GetProperty("status").GetString());
            Assert.Equal(expected.Decision == VerificationDecision.Same ? "same" : "different", body.GetProperty("decision").GetString());
            Assert.Equal(p.Label, body.GetProperty("same").GetBoolean());
            Assert.Equal(expected.Cosine, body.GetProperty("cosine").GetDouble(), 1e-5);
            Assert.Equal(expected.Xcos, body.GetProperty("score").GetDouble(), 1e-5);
            Assert.Equal(expected.Threshold!.Value, body.GetProperty("threshold").GetDouble(), 1e-12);
            var cos = body.GetProperty("cos_map").EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(v => v.GetSingle()).ToArray();
            Assert.Equal(49, cos.Length);
            for (int i = 0; i < 49; i++) Assert.Equal(expected.CosMap![i], cos[i], 1e-4);
            Assert.Equal(Path.GetFileName(p.ImagePath1), body.GetProperty("faces")[0].GetProperty("path").GetString());
            // what the page draws: two aligned faces of the model's size
            foreach (var png in body.GetProperty("aligned_png").EnumerateArray())
            {
                var face = ML.Images.ImageIO.Load(Convert.FromBase64String(png.GetString()!));
                Assert.Equal((112, 112), (face.Width, face.Height));
            }
        }
    }

    [DevFacesFact]
    public async Task TheFigureComesAsPngWhenAsked()
    {
        var p = DevFaces.Pairs()[0];
        var (status, body) = await Post(Forms.Pair(p.ImagePath1, p.ImagePath2), "/v1/verify?figure=true");
        Assert.Equal(HttpStatusCode.OK, status);
        var figure = ML.Images.ImageIO.Load(Convert.FromBase64String(body.GetProperty("figure_png").GetString()!));
        Assert.True(figure.Width > 300 && figure.Height > 150, $"{figure.Width}x{figure.Height}");
    }

    public static TheoryData<string, int, string, string?> BadUploads() => new()
    {
        { "empty", 400, "empty_file", "image2" },
        { "text", 415, "not_an_image", "image2" },
        { "truncated", 422, "truncated_image", "image2" },
        { "too_many_bytes", 413, "upload_too_large", "image2" },
        { "too_many_pixels", 413, "image_too_large", "image2" },
        { "missing", 400, "missing_part", "image2" },
        { "not_multipart", 415, "not_multipart", null },
        { "bad_query", 400, "bad_query", "figure" },
    };

    [DevFacesTheory]
    [MemberData(nameof(BadUploads))]
    public async Task EachBadUploadGetsItsOwn4xxNamingThePart(string kind, int code, string error, string? part)
    {
        var photo = DevFaces.Pairs()[0].ImagePath1;
        var good = ("image1", "a.jpg", File.ReadAllBytes(photo));
        var jpeg = File.ReadAllBytes(photo);
        HttpContent content = kind switch
        {
            "empty" => Forms.Files(good, ("image2", "empty.jpg", [])),
            "text" => Forms.Files(good, ("image2", "notes.jpg", "this is not an image"u8.ToArray())),
            "truncated" => Forms.Files(good, ("image2", "cut.jpg", jpeg[..(jpeg.Length / 2)])),
            "too_many_bytes" => Forms.Files(good, ("image2", "big.jpg", new byte[ServerFactory.MaxUploadBytes + 1])),
            "too_many_pixels" => Forms.Files(good, ("image2", "wide.png", Forms.GreyPng(1500, 1001))),
            "missing" => Forms.Files(good),
            "not_multipart" => new StringContent("{\"image1\": \"/etc/passwd\"}", System.Text.Encoding.UTF8, "application/json"),
            _ => Forms.Pair(photo, photo),
        };
        var (status, body) = await Post(content, kind == "bad_query" ? "/v1/verify?figure=maybe" : "/v1/verify");
        Assert.Equal(code, (int)status);
        Assert.Equal(error, body.GetProperty("error").GetString());
        Assert.Equal(part, body.GetProperty("part").GetString());
        var detail = body.GetProperty("detail").GetString()!;
        Assert.DoesNotContain(" at Xcos.", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", detail, StringComparison.Ordinal);
    }

    [DevFacesFact]
    public async Task APhotoWithoutAFaceIsA200WithTheFaceStatus()
    {
        var photo = DevFaces.Pairs()[0].ImagePath1;
        var (status, body) = await Post(Forms.Files(("image1", "a.jpg", File.ReadAllBytes(photo)), ("image2", "grey.png", Forms.GreyPng(200, 200))));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("no_face", body.GetProperty("status").GetString());
        Assert.Equal("different", body.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("cosine").ValueKind);
        Assert.Equal("ok", body.GetProperty("faces")[0].GetProperty("status").GetString());
        Assert.Equal("no_face", body.GetProperty("faces")[1].GetProperty("status").GetString());
        Assert.False(body.TryGetProperty("aligned_png", out _));
    }

    [DevFacesFact]
    public async Task ThirtyTwoConcurrentRequestsGiveTheSequentialAnswers()
    {
        var pairs = DevFaces.Pairs().Take(8).ToList();
        using var client = factory.CreateClient();
        async Task<string> One(int i)
        {
            var p = pairs[i % pairs.Count];
            using var r = await client.PostAsync("/v1/verify", Forms.Pair(p.ImagePath1, p.ImagePath2));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var body = Json(await r.Content.ReadAsStringAsync());
            // everything but the wall time
            return string.Join("|", body.EnumerateObject().Where(x => x.Name != "milliseconds").Select(x => x.Name + "=" + x.Value.GetRawText()));
        }
        var sequential = new List<string>();
        foreach (var i in Enumerable.Range(0, pairs.Count)) sequential.Add(await One(i));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 32).Select(One));
        for (int i = 0; i < 32; i++) Assert.Equal(sequential[i % pairs.Count], concurrent[i]);
        Assert.Equal(pairs.Count, concurrent.Distinct().Count());
    }

    [DevFacesFact]
    public async Task ProbesMetricsAndOpenApiAnswer()
    {
        using var client = factory.CreateClient();
        Assert.Equal("ok\n", await client.GetStringAsync("/healthz"));
        var p = DevFaces.Pairs()[0];
        using (var r = await client.PostAsync("/v1/verify", Forms.Pair(p.ImagePath1, p.ImagePath2))) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.True(Json(await client.GetStringAsync("/readyz")).GetProperty("ready").GetBoolean());
        var metrics = await client.GetStringAsync("/metrics");
        Assert.Matches(@"xcos_http_requests_total\{route=""/v1/verify"",status=""200""\} [1-9]", metrics);
        Assert.Matches(@"xcos_http_request_duration_seconds_bucket\{route=""/v1/verify"",le=""\+Inf""\} [1-9]", metrics);
        Assert.Matches(@"xcos_faces_processed_total\{status=""ok""\} [1-9]", metrics);
        Assert.Contains("xcos_queue_length 0", metrics, StringComparison.Ordinal);
        var openapi = Json(await client.GetStringAsync("/openapi/v1.json"));
        var paths = openapi.GetProperty("paths");
        foreach (var path in new[] { "/v1/verify", "/v1/identify", "/v1/enroll", "/v1/identities/{name}", "/healthz", "/readyz", "/metrics" })
            Assert.True(paths.TryGetProperty(path, out _), path);
    }
}
