namespace Xcos.ML.Data.Pickle;

/// <summary>A class or function a pickle names (<c>module.name</c>) and that was never imported or called:
/// an inert record of the reference.</summary>
public sealed record PickledGlobal(string Module, string Name)
{
    /// <summary>"module.name".</summary>
    public string FullName => $"{Module}.{Name}";

    /// <inheritdoc />
    public override string ToString() => FullName;
}
