namespace Xcos.TestUtilities;

/// <summary>A theory that needs the real face models and ../shared/dev-faces; skipped without them (as <see cref="DevFacesFactAttribute"/>).</summary>
public sealed class DevFacesTheoryAttribute : TheoryAttribute
{
    public DevFacesTheoryAttribute()
    {
        if (RealFaces.ModelsDir() is null) Skip = RealFaces.NoModels;
        else if (DevFaces.Dir() is null) Skip = "shared/dev-faces not found";
    }
}
