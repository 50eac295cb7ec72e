namespace Xcos.TestUtilities;

/// <summary>A fact that needs the real face models and ../shared/dev-faces; skipped without them.</summary>
public sealed class DevFacesFactAttribute : FactAttribute
{
    public DevFacesFactAttribute()
    {
        if (RealFaces.ModelsDir() is null) Skip = RealFaces.NoModels;
        else if (DevFaces.Dir() is null) Skip = "shared/dev-faces not found";
    }
}
