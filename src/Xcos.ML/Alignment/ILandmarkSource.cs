using Xcos.ML.Images;

namespace Xcos.ML.Alignment;

/// <summary>
/// Supplies facial landmarks for an image (e.g. an ONNX face detector), for pipelines whose data has no landmark column.
/// </summary>
/// <remarks>
/// Implementations are called from ML.NET cursors, possibly on several threads at once, so
/// <see cref="Detect"/> must be thread-safe. To let a pipeline that uses the source survive
/// <c>mlContext.Model.Save</c>/<c>Load</c>, return a non-null <see cref="ContractName"/> and ship a public
/// <c>[CustomMappingFactoryAttribute(ContractName)]</c> factory deriving from
/// <c>CustomMappingFactory&lt;LandmarkSourceInput, LandmarkSourceOutput&gt;</c> whose <c>GetMapping()</c> returns
/// <c>LandmarkSourceMapping.Create(source)</c> (namespace <c>Xcos.ML.MLNet</c>).
/// </remarks>
public interface ILandmarkSource
{
    /// <summary>Contract name of the factory that rebuilds this source when a saved model is loaded; null if none (the model then cannot be saved).</summary>
    string? ContractName { get; }

    /// <summary>
    /// Landmarks of the face to align as a flat x,y vector of 10 (five points: left eye, right eye, nose tip,
    /// left and right mouth corner) or 136 (68 points) values in source pixels, or null when no face is found.
    /// </summary>
    float[]? Detect(RgbImage image);
}
