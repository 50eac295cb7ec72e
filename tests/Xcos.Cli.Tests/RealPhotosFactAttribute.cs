namespace Xcos.Cli.Tests;

/// <summary>A fact that needs the real face models and photos (.ci/run fetches both and sets XCOS_MODELS, XCOS_PHOTOS).</summary>
public sealed class RealPhotosFactAttribute : FactAttribute
{
    public RealPhotosFactAttribute()
    {
        var models = Environment.GetEnvironmentVariable("XCOS_MODELS");
        var photos = Environment.GetEnvironmentVariable("XCOS_PHOTOS");
        if (string.IsNullOrEmpty(models) || !File.Exists(Path.Combine(models, "fr_detect.onnx"))
            || string.IsNullOrEmpty(photos) || !File.Exists(Path.Combine(photos, "opencv_basketball1.png")))
            Skip = "needs XCOS_MODELS (scripts/fetch-models.sh) and XCOS_PHOTOS (scripts/real-faces/fetch-photos.sh)";
    }
}
