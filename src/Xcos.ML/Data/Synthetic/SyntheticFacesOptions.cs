namespace Xcos.ML.Data.Synthetic;

/// <summary>Options for <see cref="SyntheticFaces"/>. Defaults give a small, quick data set.</summary>
public sealed class SyntheticFacesOptions
{
    /// <summary>Number of distinct identities (training and held-out together). Default 100.</summary>
    public int Identities { get; set; } = 100;

    /// <summary>Images generated per identity. Default 20.</summary>
    public int ImagesPerIdentity { get; set; } = 20;

    /// <summary>Square image side in pixels. Default 112 (the ArcFace aligned crop).</summary>
    public int ImageSize { get; set; } = 112;

    /// <summary>Seed; the same seed and options give byte-identical images. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// Scales every per-image nuisance (pose, lighting, background, expression, noise, blur, occluder
    /// probability). 0 renders each identity the same way every time; 1 (default) is the calibrated level at
    /// which raw pixel cosine is a poor verifier; up to 2 is accepted.
    /// </summary>
    public double NuisanceStrength { get; set; } = 1.0;

    /// <summary>Fraction of identities held out for validation (the last ones by index). Default 0.2.</summary>
    public double ValidationFraction { get; set; } = 0.2;

    /// <summary>Number of validation pairs written to <c>val_pairs.tsv</c> (half same, half different). Default 600.</summary>
    public int ValidationPairs { get; set; } = 600;

    /// <summary>Parallel workers for generation; 0 (default) uses <see cref="Environment.ProcessorCount"/>. Output does not depend on it.</summary>
    public int Workers { get; set; }

    internal void Validate()
    {
        if (Identities < 2) throw new ArgumentOutOfRangeException(nameof(Identities), Identities, "need at least 2 identities");
        if (ImagesPerIdentity < 1) throw new ArgumentOutOfRangeException(nameof(ImagesPerIdentity), ImagesPerIdentity, "need at least 1 image per identity");
        if (ImageSize < 16 || ImageSize > 1024) throw new ArgumentOutOfRangeException(nameof(ImageSize), ImageSize, "image size must be in [16, 1024]");
        if (!(NuisanceStrength >= 0 && NuisanceStrength <= 2)) throw new ArgumentOutOfRangeException(nameof(NuisanceStrength), NuisanceStrength, "nuisance strength must be in [0, 2]");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1)) throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "validation fraction must be in [0, 1)");
        if (ValidationPairs < 0) throw new ArgumentOutOfRangeException(nameof(ValidationPairs), ValidationPairs, "must be >= 0");
        if (Workers < 0) throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "must be >= 0");
    }
}

/// <summary>Five facial landmarks in pixel coordinates, in the ArcFace order: left eye, right eye, nose tip, left and right mouth corner.</summary>
public readonly record struct FaceLandmarks(float[] Points)
{
    /// <summary>The ArcFace 112x112 alignment template (x1, y1, ..., x5, y5).</summary>
    public static readonly float[] Template112 =
    [
        38.2946f, 51.6963f, 73.5318f, 51.5014f, 56.0252f, 71.7366f, 41.5493f, 92.3655f, 70.7299f, 92.2041f,
    ];

    /// <summary>X of landmark <paramref name="i"/> (0..4).</summary>
    public float X(int i) => Points[2 * i];

    /// <summary>Y of landmark <paramref name="i"/> (0..4).</summary>
    public float Y(int i) => Points[2 * i + 1];
}

/// <summary>One generated face: its RGB pixels and landmarks, identity, index within it, and split.</summary>
public sealed class SyntheticFace
{
    /// <summary>Identity index in [0, Identities).</summary>
    public required int Identity { get; init; }

    /// <summary>Image index within the identity.</summary>
    public required int Index { get; init; }

    /// <summary>True when the identity is held out for validation.</summary>
    public required bool IsValidation { get; init; }

    /// <summary>Image side in pixels.</summary>
    public required int Size { get; init; }

    /// <summary>Interleaved RGB8 pixels, row-major, <c>Size * Size * 3</c> bytes.</summary>
    public required byte[] Rgb { get; init; }

    /// <summary>True 5-point landmarks after the per-image pose nuisance, in pixels.</summary>
    public required FaceLandmarks Landmarks { get; init; }

    /// <summary>Folder name of the identity (<c>id0007</c>).</summary>
    public string IdentityName => SyntheticFaces.IdentityName(Identity);

    /// <summary>Path of this image relative to the root of <see cref="SyntheticFaces.WriteImageFolder"/>, with '/' separators.</summary>
    public string RelativePath => $"{(IsValidation ? "val" : "train")}/{IdentityName}/{Index.ToString("D4", System.Globalization.CultureInfo.InvariantCulture)}.png";
}
