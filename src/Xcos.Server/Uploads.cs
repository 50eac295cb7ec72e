using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.Server;

/// <summary>One uploaded image, checked and decoded: the request's own bytes only, never a path on the server's disk.</summary>
/// <param name="Part">The form part it came in (image1, image2, image).</param>
/// <param name="Name">The client's file name (file name only), or the part's name when none was sent.</param>
/// <param name="Image">The decoded pixels.</param>
internal sealed record Upload(string Part, string Name, RgbImage Image);

/// <summary>Reads multipart forms and the images in them; every refusal is an <see cref="ApiException"/> naming the part.</summary>
internal static class Uploads
{
    /// <summary>The form of a multipart request (415 not_multipart otherwise; 400 bad_form when it cannot be parsed).</summary>
    public static async Task<IFormCollection> ReadForm(HttpRequest request, CancellationToken ct)
    {
        if (!request.HasFormContentType || !(request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) ?? false))
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, "not_multipart", null,
                $"expected a multipart/form-data body with image files, got content type '{request.ContentType ?? "(none)"}'");
        try { return await request.ReadFormAsync(ct).ConfigureAwait(false); }
        catch (InvalidDataException e)
        {
            // FormOptions' limits (too many parts, a part over the body limit) and malformed multipart bodies
            bool tooLarge = e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase);
            throw new ApiException(tooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest,
                tooLarge ? "upload_too_large" : "bad_form", null, $"the multipart body cannot be read: {e.Message}");
        }
    }

    /// <summary>The file parts named <paramref name="part"/> (400 missing_part when there is none).</summary>
    public static IReadOnlyList<IFormFile> Files(IFormCollection form, string part, long maxBytes, bool many = false)
    {
        var files = form.Files.GetFiles(part);
        if (files.Count == 0)
            throw new ApiException(StatusCodes.Status400BadRequest, "missing_part", part,
                $"no file in the form part '{part}'" + (form.Files.Count > 0 ? $" (parts sent: {string.Join(", ", form.Files.Select(f => f.Name).Distinct())})" : ""));
        if (!many && files.Count > 1)
            throw new ApiException(StatusCodes.Status400BadRequest, "too_many_files", part, $"the form part '{part}' takes one file, got {files.Count}");
        foreach (var f in files)
        {
            if (f.Length == 0) throw new ApiException(StatusCodes.Status400BadRequest, "empty_file", part, $"{NameOf(f)}: the uploaded file is empty (0 bytes)");
            if (f.Length > maxBytes)
                throw new ApiException(StatusCodes.Status413PayloadTooLarge, "upload_too_large", part, $"{NameOf(f)}: {f.Length} bytes, over the limit of {maxBytes} bytes an image");
        }
        return files;
    }

    /// <summary>Decodes one uploaded file under the pixel guard (413 image_too_large, 415 not_an_image, 422 truncated_image).</summary>
    public static async Task<Upload> Decode(IFormFile file, long maxPixels, CancellationToken ct)
    {
        var name = NameOf(file);
        using var buffer = new MemoryStream((int)file.Length);
        await using (var s = file.OpenReadStream()) await s.CopyToAsync(buffer, ct).ConfigureAwait(false);
        try
        {
            return new Upload(file.Name, name, ImageIO.Load(buffer.ToArray(), new ImageLoadOptions { MaxPixels = maxPixels }, name));
        }
        catch (Exception e) when (FaceImageErrors.Classify(e) is { } status)
        {
            var (code, http) = status switch
            {
                FaceStatus.ImageTooLarge => ("image_too_large", StatusCodes.Status413PayloadTooLarge),
                FaceStatus.TruncatedImage => ("truncated_image", StatusCodes.Status422UnprocessableEntity),
                _ => ("not_an_image", StatusCodes.Status415UnsupportedMediaType),
            };
            throw new ApiException(http, code, file.Name, e.Message);
        }
    }

    // the client's name labels the face in the answer; only its last segment, so no client path is echoed
    private static string NameOf(IFormFile f)
    {
        var n = Path.GetFileName(f.FileName?.Replace('\\', '/') ?? "");
        return string.IsNullOrWhiteSpace(n) ? f.Name : n;
    }
}
