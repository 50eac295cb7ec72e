using System.Net;
using System.Text.Json;

namespace Xcos.Server.Tests;

/// <summary>Enrol, identify and delete through the API, on a gallery file of the server's own.</summary>
public sealed class GalleryEndpointTests(GalleryServerFactory factory) : IClassFixture<GalleryServerFactory>
{
    private static string Photo(string person, int n) => Path.Combine(DevFaces.Root, "photos", person, $"{person}_{n:0000}.jpg");

    private static MultipartFormDataContent Enrolment(string identity, params string[] photos)
    {
        var form = Forms.Files(photos.Select(p => ("image", Path.GetFileName(p), File.ReadAllBytes(p))).ToArray());
        form.Add(new StringContent(identity), "identity");
        return form;
    }

    private static async Task<(HttpStatusCode, JsonElement)> Send(Task<HttpResponseMessage> request)
    {
        using var r = await request;
        return (r.StatusCode, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement);
    }

    [DevFacesFact]
    public async Task EnrolIdentifyDeleteRoundTrip()
    {
        using var client = factory.CreateClient();
        var (s1, e1) = await Send(client.PostAsync("/v1/enroll", Enrolment("Tony Blair", Photo("Tony_Blair", 1), Photo("Tony_Blair", 4))));
        Assert.Equal(HttpStatusCode.OK, s1);
        Assert.Equal(2, e1.GetProperty("enrolled").GetArrayLength());
        var (s2, _) = await Send(client.PostAsync("/v1/enroll", Enrolment("Donald Rumsfeld", Photo("Donald_Rumsfeld", 3))));
        Assert.Equal(HttpStatusCode.OK, s2);

        // a photo without a face spoils the whole enrolment: nothing of it is stored
        var bad = Enrolment("Nobody", Photo("Tony_Blair", 10));
        bad.Add(new ByteArrayContent(Forms.GreyPng(160, 160)), "image", "grey.png");
        var (s3, e3) = await Send(client.PostAsync("/v1/enroll", bad));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, s3);
        Assert.Equal("no_face", e3.GetProperty("error").GetString());
        Assert.Contains("grey.png", e3.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var probe = Photo("Tony_Blair", 3);
        var (s4, id) = await Send(client.PostAsync("/v1/identify?top=2", Forms.Files(("image", "probe.jpg", File.ReadAllBytes(probe)))));
        Assert.Equal(HttpStatusCode.OK, s4);
        Assert.Equal(3, id.GetProperty("gallery_faces").GetInt32());
        Assert.False(id.GetProperty("unknown").GetBoolean());
        var best = id.GetProperty("matches")[0];
        Assert.Equal("Tony Blair", best.GetProperty("identity").GetString());
        Assert.Equal(49, best.GetProperty("cos_map").GetArrayLength());
        Assert.Equal(2, id.GetProperty("matches").GetArrayLength());
        Assert.False(string.IsNullOrEmpty(id.GetProperty("probe_png").GetString()));

        var (s5, d) = await Send(client.DeleteAsync("/v1/identities/Tony%20Blair"));
        Assert.Equal(HttpStatusCode.OK, s5);
        Assert.Equal(2, d.GetProperty("removed").GetInt32());
        var (s6, again) = await Send(client.PostAsync("/v1/identify", Forms.Files(("image", "probe.jpg", File.ReadAllBytes(probe)))));
        Assert.Equal(HttpStatusCode.OK, s6);
        Assert.True(again.GetProperty("unknown").GetBoolean());
        Assert.All(again.GetProperty("matches").EnumerateArray(), m => Assert.NotEqual("Tony Blair", m.GetProperty("identity").GetString()));
        var (s7, gone) = await Send(client.DeleteAsync("/v1/identities/Tony%20Blair"));
        Assert.Equal(HttpStatusCode.NotFound, s7);
        Assert.Equal("unknown_identity", gone.GetProperty("error").GetString());

        var (s8, list) = await Send(client.GetAsync("/v1/identities"));
        Assert.Equal(HttpStatusCode.OK, s8);
        Assert.Equal("Donald Rumsfeld", Assert.Single(list.GetProperty("identities").EnumerateArray()).GetProperty("name").GetString());
    }

    [DevFacesFact]
    public async Task IdentifyRefusesAPhotoWithoutAFace()
    {
        using var client = factory.CreateClient();
        var (status, body) = await Send(client.PostAsync("/v1/identify", Forms.Files(("image", "grey.png", Forms.GreyPng(160, 160)))));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("no_face", body.GetProperty("error").GetString());
        Assert.Equal("image", body.GetProperty("part").GetString());
    }
}
