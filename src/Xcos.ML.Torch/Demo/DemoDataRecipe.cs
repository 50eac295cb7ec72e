namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The synthetic identities of a demo run (<see cref="Xcos.ML.Data.Synthetic.SyntheticFaces"/>): the generator makes the
/// same images from the same settings on any machine, so the held-out pairs need not be committed, only these numbers.
/// </summary>
public sealed record DemoDataRecipe
{
    /// <summary>Identities generated (trained and held out together). Default 250: for a fixed number of steps many
    /// identities of few images each generalise better to unseen identities than few identities of many images.</summary>
    public int Identities { get; init; } = 250;

    /// <summary>Images per identity. Default 8.</summary>
    public int ImagesPerIdentity { get; init; } = 8;

    /// <summary>Fraction of identities held out (never trained on) for evaluation, the last ones by index. Default 0.1 (25 of 250).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Verification pairs over the held-out identities, alternating same and different. Default 400.</summary>
    public int ValidationPairs { get; init; } = 400;

    /// <summary>Seed of the generator. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting that is out of range.</summary>
    /// <param name="folds">Folds of the verification protocol: every fold needs a same and a different pair.</param>
    public void Validate(int folds)
    {
        if (Identities < 4) throw Bad(nameof(Identities), Identities, "must be at least 4 (two trained, two held out)");
        if (ImagesPerIdentity < 2) throw Bad(nameof(ImagesPerIdentity), ImagesPerIdentity, "must be at least 2");
        if (ValidationFraction is <= 0 or >= 1) throw Bad(nameof(ValidationFraction), ValidationFraction, "must be in (0, 1)");
        int heldOut = (int)Math.Round(Identities * ValidationFraction);
        if (heldOut < 2 || Identities - heldOut < 2)
            throw Bad(nameof(ValidationFraction), ValidationFraction, $"holds out {heldOut} of {Identities} identities; both sides need at least 2");
        if (ValidationPairs < 2 * folds) throw Bad(nameof(ValidationPairs), ValidationPairs, $"must be at least twice the {folds} folds");
    }

    private static ArgumentException Bad(string name, object value, string what) => new($"demo data {name} = {value}: {what}.");
}
