using Xcos.ML.FaceModels;

namespace Xcos.TestUtilities;

/// <summary>Where the real face models and photos are on this machine (XCOS_MODELS, XCOS_PHOTOS), if anywhere.</summary>
public static class RealFaces
{
    /// <summary>Why a test that needs the models was skipped.</summary>
    public const string NoModels = "real face models not found: set XCOS_MODELS to a folder from `xcos models fetch` or scripts/fetch-models.sh";

    /// <summary>The first of $XCOS_MODELS and the repository's .models that holds every model file, or null.</summary>
    public static string? ModelsDir()
    {
        foreach (var dir in new[] { Environment.GetEnvironmentVariable("XCOS_MODELS"), RepoModels() })
            if (!string.IsNullOrEmpty(dir) && ModelStore.ModelFiles.All(f => File.Exists(Path.Combine(dir, f)))) return dir;
        return null;
    }

    /// <summary>The repository's .models folder (where scripts/fetch-models.sh puts the models for .ci/run), or null.</summary>
    public static string? RepoModels()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln"))) return Path.Combine(d.FullName, ".models");
        return null;
    }

    /// <summary>A photo fetched by scripts/real-faces/fetch-photos.sh into $XCOS_PHOTOS, or null.</summary>
    public static string? Photo(string name)
    {
        var dir = Environment.GetEnvironmentVariable("XCOS_PHOTOS");
        if (string.IsNullOrEmpty(dir)) return null;
        var p = Path.Combine(dir, name);
        return File.Exists(p) ? p : null;
    }
}
