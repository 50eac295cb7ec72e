namespace Xcos.ML.Torch.Demo;

/// <summary>Stages of a demo run, in order.</summary>
public enum DemoStage
{
    /// <summary>Writing the synthetic identities (only the held-out ones unless training).</summary>
    Generating,
    /// <summary>Training xCos from scratch for the recipe's fixed number of steps (<c>--train</c> only).</summary>
    Training,
    /// <summary>Fitting and running the ML.NET pipeline over the held-out pairs.</summary>
    Scoring,
    /// <summary>Explanation figures and the HTML report.</summary>
    Explaining,
    /// <summary>Saving the ML.NET pipeline and scoring again with the reloaded .zip.</summary>
    Reloading,
    /// <summary>Explaining labelled real photos with the real face models.</summary>
    RealFaces,
}
