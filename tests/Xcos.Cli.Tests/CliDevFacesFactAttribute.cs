namespace Xcos.Cli.Tests;

/// <summary>
/// A fact that needs the real face models in $XCOS_MODELS (where the xcos process looks; the shared DevFacesFact also
/// accepts the repository's .models) and ../shared/dev-faces.
/// </summary>
public sealed class CliDevFacesFactAttribute : FactAttribute
{
    public CliDevFacesFactAttribute()
    {
        var models = Environment.GetEnvironmentVariable("XCOS_MODELS");
        if (string.IsNullOrEmpty(models) || !File.Exists(Path.Combine(models, "fr_feature.onnx"))) Skip = "needs XCOS_MODELS (scripts/fetch-models.sh)";
        else if (DevFaces.Dir() is null) Skip = "needs ../shared/dev-faces";
    }
}
