namespace Xcos.ML.Data.Pickle;

/// <summary>A class or function a pickle names (<c>module.name</c>) and that was never imported or called:
/// an inert record of the reference.</summary>
internal sealed record PickledGlobal(string Module, string Name)
{
    /// <summary>The dotted Python name, e.g. "torch._utils._rebuild_tensor_v2".</summary>
    public string FullName => $"{Module}.{Name}";

    /// <inheritdoc />
    public override string ToString() => FullName;
}
