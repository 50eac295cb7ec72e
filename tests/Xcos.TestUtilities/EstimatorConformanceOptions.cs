using System.Reflection;

namespace Xcos.TestUtilities;

/// <summary>What <see cref="EstimatorConformance.Check"/> needs to know beyond the estimator and its input.</summary>
public sealed class EstimatorConformanceOptions
{
    /// <summary>
    /// Stages before the estimator (e.g. <c>LoadImages</c>), fitted on the raw input and saved with the model; the
    /// estimator's checks run on their output. Default null.
    /// </summary>
    public Microsoft.ML.IEstimator<Microsoft.ML.ITransformer>? Upstream { get; init; }

    /// <summary>Input columns the estimator reads: each, missing or of a wrong type, must be refused naming it.</summary>
    public IReadOnlyList<string> RequiredColumns { get; init; } = [];

    /// <summary>
    /// Required columns whose wrong type the fitted transformer does not refuse at Transform, each with the reason (a known
    /// limit, stated where the check runs); the estimator must still refuse them, and a missing column stays refused.
    /// </summary>
    public IReadOnlyDictionary<string, string> LaxTransformerColumns { get; init; } = new Dictionary<string, string>();

    /// <summary>Assemblies that hold the custom-mapping factories of the saved model, registered before <c>Model.Load</c>.</summary>
    public IReadOnlyList<Assembly> Assemblies { get; init; } = [];

    /// <summary>
    /// How far a floating-point output may move after save and load (relative, absolute below 1). Default 0: the reloaded
    /// model runs the same computation and must give the same numbers.
    /// </summary>
    public double Tolerance { get; init; }
}
