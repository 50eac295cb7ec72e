using System.ComponentModel;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using Xcos.ML.Alignment;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.MLNet;

// ML.NET saves a CustomMapping as its contract name only; on Model.Load the factory below rebuilds the mapping
// with the column names of these classes. So the classes use fixed internal column names, and FaceAlignEstimator
// renames to and from the user's names with CopyColumns (which saves its names itself).

/// <summary>Fixed internal column names of the <see cref="FaceAlignEstimator"/> stages.</summary>
internal static class FaceAlignColumns
{
    /// <summary>Source image (copy of the user's image column).</summary>
    public const string Image = "Xcos.Align.Image";
    /// <summary>Landmark vector (copy of the user's column, or from an <see cref="ILandmarkSource"/>).</summary>
    public const string Landmarks = "Xcos.Align.Landmarks";
    /// <summary>Column of the aligned 112x112 face image.</summary>
    public const string Face = "Xcos.Align.Face";
    /// <summary>Mirrored aligned face (only when the tensor is flipped).</summary>
    public const string FlippedFace = "Xcos.Align.FlippedFace";
    /// <summary>Column of the alignment status: "ok", or why there is no face.</summary>
    public const string Status = "Xcos.Align.Status";
    /// <summary>Column of the aligned face as a normalised CHW float tensor.</summary>
    public const string Tensor = "Xcos.Align.Tensor";
}

/// <summary>Row read by the alignment mapping.</summary>
internal sealed class FaceAlignInput
{
    /// <summary>The photo to align, as loaded (not resized: landmarks are in its pixels).</summary>
    [ColumnName(FaceAlignColumns.Image)]
    public MLImage? Image { get; set; }

    /// <summary>Flat x,y landmark vector (10 or 136 values).</summary>
    [ColumnName(FaceAlignColumns.Landmarks), VectorType]
    public float[]? Landmarks { get; set; }
}

/// <summary>Row written by the alignment mapping.</summary>
internal sealed class FaceAlignOutput
{
    /// <summary>Aligned 112x112 face; black when <see cref="Status"/> is not "ok".</summary>
    [ColumnName(FaceAlignColumns.Face), ImageType(ArcFaceTemplate.Size, ArcFaceTemplate.Size)]
    public MLImage? Face { get; set; }

    /// <summary>"ok" or the reason the face is black.</summary>
    [ColumnName(FaceAlignColumns.Status)]
    public string Status { get; set; } = "";
}

/// <summary>Row written by the alignment mapping that also mirrors the face (for flipped tensors).</summary>
internal sealed class FaceAlignFlipOutput
{
    /// <summary>Aligned 112x112 face; black when <see cref="Status"/> is not "ok".</summary>
    [ColumnName(FaceAlignColumns.Face), ImageType(ArcFaceTemplate.Size, ArcFaceTemplate.Size)]
    public MLImage? Face { get; set; }

    /// <summary>Left-right mirror of <see cref="Face"/>.</summary>
    [ColumnName(FaceAlignColumns.FlippedFace), ImageType(ArcFaceTemplate.Size, ArcFaceTemplate.Size)]
    public MLImage? FlippedFace { get; set; }

    /// <summary>"ok" or the reason the face is black.</summary>
    [ColumnName(FaceAlignColumns.Status)]
    public string Status { get; set; } = "";
}

// Public only for ILandmarkSource implementations that save: their factory derives from
// CustomMappingFactory<LandmarkSourceInput, LandmarkSourceOutput>. Hidden from IntelliSense: not for other uses.
/// <summary>Row read by a landmark-source mapping.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class LandmarkSourceInput
{
    /// <summary>The photo to align, as loaded (not resized: landmarks are in its pixels).</summary>
    [ColumnName(FaceAlignColumns.Image)]
    public MLImage? Image { get; set; }
}

/// <summary>Row written by a landmark-source mapping.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class LandmarkSourceOutput
{
    /// <summary>Flat x,y landmarks, empty when no face was found.</summary>
    [ColumnName(FaceAlignColumns.Landmarks), VectorType]
    public float[] Landmarks { get; set; } = [];
}

/// <summary>The per-row functions behind the CustomMapping stages.</summary>
internal static class FaceAlignMapping
{
    /// <summary>Status of a row aligned without trouble.</summary>
    public static readonly string Ok = FaceStatus.Ok.ToText();

    /// <summary>Aligns one row; never throws for bad data, reports it in the status instead.</summary>
    public static void Align(FaceAlignInput input, FaceAlignOutput output)
    {
        var face = AlignOrBlank(input, out var status);
        output.Status = status;
        output.Face = ImageIO.ToMLImage(face);
    }

    /// <summary>As <see cref="Align"/>, and also writes the left-right mirror of the face.</summary>
    public static void AlignAndFlip(FaceAlignInput input, FaceAlignFlipOutput output)
    {
        var face = AlignOrBlank(input, out var status);
        output.Status = status;
        output.Face = ImageIO.ToMLImage(face);
        output.FlippedFace = ImageIO.ToMLImage(Mirror(face));
    }

    /// <summary>The aligned face of a row, or a black face and the reason.</summary>
    public static RgbImage AlignOrBlank(FaceAlignInput input, out string status)
    {
        if (input.Image == null)
        {
            status = FaceStatus.Undecodable.WithDetail("no image");
            return Blank();
        }
        if (input.Landmarks == null || input.Landmarks.Length == 0)
        {
            status = FaceStatus.NoFace.WithDetail("no landmarks");
            return Blank();
        }
        try
        {
            var face = FaceAligner.Align(ImageIO.FromMLImage(input.Image), input.Landmarks).Face;
            status = Ok;
            return face;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or InvalidDataException)
        {
            status = FaceStatus.DegenerateLandmarks.WithDetail(e.Message);
            return Blank();
        }
    }

    private static RgbImage Mirror(RgbImage src)
    {
        var dst = new byte[src.Pixels.Length];
        int w = src.Width;
        for (int y = 0; y < src.Height; y++)
            for (int x = 0; x < w; x++)
                Array.Copy(src.Pixels, (y * w + x) * 3, dst, (y * w + w - 1 - x) * 3, 3);
        return new RgbImage(w, src.Height, dst);
    }

    private static RgbImage Blank() => new(ArcFaceTemplate.Size, ArcFaceTemplate.Size);
}

/// <summary>Builds the per-row function that asks an <see cref="ILandmarkSource"/> for landmarks.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class LandmarkSourceMapping
{
    /// <summary>The mapping for <paramref name="source"/>: image in, landmarks out (empty when none are found or the source fails).</summary>
    public static Action<LandmarkSourceInput, LandmarkSourceOutput> Create(ILandmarkSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        MLImageTypeRegistration.Ensure();
        return (input, output) =>
        {
            // an aligned face's landmarks come from its size: no pixel conversion
            output.Landmarks = input.Image == null ? []
                : source is AlignedFaceLandmarks ? AlignedFaceLandmarks.ForSize(input.Image.Width, input.Image.Height)
                : source.Detect(ImageIO.FromMLImage(input.Image)) ?? [];
        };
    }
}

/// <summary>Rebuilds the alignment stage of a loaded model. Register with <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(FaceAlignEstimator).Assembly)</c>.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class FaceAlignMappingFactory : CustomMappingFactory<FaceAlignInput, FaceAlignOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.AlignFaces.v1";

    /// <inheritdoc/>
    public override Action<FaceAlignInput, FaceAlignOutput> GetMapping()
    {
        MLImageTypeRegistration.Ensure();
        return FaceAlignMapping.Align;
    }
}

/// <summary>Rebuilds the alignment stage with a mirrored face (flipped tensors) of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class FaceAlignFlipMappingFactory : CustomMappingFactory<FaceAlignInput, FaceAlignFlipOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.AlignFacesFlip.v1";

    /// <inheritdoc/>
    public override Action<FaceAlignInput, FaceAlignFlipOutput> GetMapping()
    {
        MLImageTypeRegistration.Ensure();
        return FaceAlignMapping.AlignAndFlip;
    }
}
