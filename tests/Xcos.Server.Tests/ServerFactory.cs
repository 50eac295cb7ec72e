using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xcos.ML.Images;

namespace Xcos.Server.Tests;

/// <summary>
/// One in-memory server (WebApplicationFactory over Xcos.Server's Program) on the real models, shared by a test class;
/// small limits so the limit tests need small files: 1 MB an upload, 1.5 megapixels.
/// </summary>
public class ServerFactory : WebApplicationFactory<Program>
{
    public const long MaxUploadBytes = 1 << 20;
    public const long MaxPixels = 1_500_000;

    /// <summary>Settings beyond the defaults (Xcos:... keys).</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> Settings() => [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Xcos:ModelsDir", RealFaces.ModelsDir() ?? "");
        builder.UseSetting("Xcos:MaxUploadBytes", MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Xcos:MaxPixels", MaxPixels.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Xcos:QueueLimit", "64");
        builder.UseSetting("Xcos:RateLimitPerSecond", "0");
        foreach (var (k, v) in Settings()) builder.UseSetting(k, v);
    }
}

/// <summary>A server with a gallery in a fresh temporary folder.</summary>
public sealed class GalleryServerFactory : ServerFactory
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("xcos-serve-gallery-").FullName;
    public string GalleryPath => Path.Combine(Folder, "people.gallery");

    protected override IEnumerable<KeyValuePair<string, string>> Settings() => [new("Xcos:Gallery", GalleryPath)];

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(Folder)) Directory.Delete(Folder, true);
    }
}

/// <summary>Multipart bodies of photos and of the bad uploads the tests send.</summary>
internal static class Forms
{
    public static MultipartFormDataContent Files(params (string Part, string FileName, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (part, name, bytes) in files) form.Add(new ByteArrayContent(bytes), part, name);
        return form;
    }

    public static MultipartFormDataContent Pair(string path1, string path2) =>
        Files(("image1", Path.GetFileName(path1), File.ReadAllBytes(path1)), ("image2", Path.GetFileName(path2), File.ReadAllBytes(path2)));

    /// <summary>A plain grey PNG: decodes fine, holds no face.</summary>
    public static byte[] GreyPng(int width, int height)
    {
        var image = new RgbImage(width, height);
        Array.Fill(image.Pixels, (byte)128);
        using var s = new MemoryStream();
        ImageIO.SavePng(image, s);
        return s.ToArray();
    }
}
