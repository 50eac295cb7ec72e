namespace Xcos.TestUtilities;

/// <summary>A fact that needs the real face models (<see cref="RealFaces.ModelsDir"/>); skipped without them.</summary>
public sealed class RealModelsFactAttribute : FactAttribute
{
    public RealModelsFactAttribute() { if (RealFaces.ModelsDir() is null) Skip = RealFaces.NoModels; }
}
