namespace Xcos.TestUtilities;

/// <summary>A fact that needs the real face models and the fetched photos ($XCOS_PHOTOS); skipped without them.</summary>
public sealed class RealPhotoFactAttribute : FactAttribute
{
    public RealPhotoFactAttribute()
    {
        if (RealFaces.ModelsDir() is null) Skip = RealFaces.NoModels;
        else if (RealFaces.Photo("faceapi_sample1.jpg") is null) Skip = "real photos not found: run scripts/real-faces/fetch-photos.sh DIR and set XCOS_PHOTOS=DIR";
    }
}
