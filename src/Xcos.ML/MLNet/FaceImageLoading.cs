using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.MLNet;

// ML.NET's LoadImages throws from Transform on a missing or undecodable file, which ends a batch. This stage reads
// the file itself and turns every failure into a row status, so one bad path never stops the others.

/// <summary>Fixed internal column names of the image-loading stage.</summary>
internal static class FaceImageColumns
{
    /// <summary>The path to read (copy of the user's path column, resolved against the image folder).</summary>
    public const string Path = "Xcos.Load.Path";
    /// <summary>The decoded image; null when it could not be read.</summary>
    public const string Image = "Xcos.Load.Image";
    /// <summary><see cref="FaceStatus"/> text of the load, with a detail when it failed.</summary>
    public const string Status = "Xcos.Load.Status";
}

/// <summary>Row read by the image-loading mapping.</summary>
internal sealed class FaceImageLoadInput
{
    /// <summary>Path of the photo to load.</summary>
    [ColumnName(FaceImageColumns.Path)]
    public string Path { get; set; } = "";
}

/// <summary>Row written by the image-loading mapping.</summary>
internal sealed class FaceImageLoadOutput
{
    /// <summary>The image as decoded (EXIF orientation applied), or null.</summary>
    [ColumnName(FaceImageColumns.Image)]
    public MLImage? Image { get; set; }

    /// <summary>"ok" or the failure as "status: detail".</summary>
    [ColumnName(FaceImageColumns.Status)]
    public string Status { get; set; } = "";
}

/// <summary>The per-row function of the image-loading stage.</summary>
internal static class FaceImageLoading
{
    /// <summary>Reads one image; never throws for bad data.</summary>
    public static void Load(FaceImageLoadInput input, FaceImageLoadOutput output)
    {
        var (image, status, detail) = TryLoad(input.Path);
        output.Image = image is null ? null : ImageIO.ToMLImage(image);
        output.Status = status.WithDetail(detail);
    }

    /// <summary>Reads <paramref name="path"/>, classifying a failure as a <see cref="FaceStatus"/> (<see cref="FaceImageErrors"/>).</summary>
    public static (RgbImage? Image, FaceStatus Status, string? Detail) TryLoad(string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) return (null, FaceStatus.EmptyPath, null);
        if (Directory.Exists(path)) return (null, FaceStatus.MissingFile, $"{path} is a directory, not an image file");
        return FaceImageErrors.TryLoad(path, p => ImageIO.Load(p));
    }
}

/// <summary>Rebuilds the image-loading stage of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class FaceImageLoadingFactory : CustomMappingFactory<FaceImageLoadInput, FaceImageLoadOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.LoadFaceImage.v1";

    /// <inheritdoc/>
    public override Action<FaceImageLoadInput, FaceImageLoadOutput> GetMapping()
    {
        MLImageTypeRegistration.Ensure();
        return FaceImageLoading.Load;
    }
}
