using System.Collections.Concurrent;
using Microsoft.ML.Transforms;
using Xcos.ML.MLNet;

namespace Xcos.ML.FaceModels;

/// <summary>
/// Rebuilds the landmark stage of a saved ML.NET model whose <c>AlignFaces</c> took landmarks from a
/// <see cref="FaceDetector"/> instance (<c>mlContext.Transforms.AlignFaces(detector)</c>). That .zip stores only
/// <see cref="ContractName"/>; when the model is loaded, the detector is opened from the models folder of
/// <see cref="ModelStore.ResolveDirectory"/>: <c>$XCOS_MODELS</c>, else the user's data folder (where
/// <see cref="ModelStore.Fetch"/> and <c>xcos models fetch</c> put them), with default <see cref="FaceDetectorOptions"/>.
/// A <c>VerifyFacePairs</c> pipeline with a face model does not come here: it keeps the detector's networks inside its
/// .zip, which then loads with no models folder.
/// </summary>
/// <remarks>
/// Before <c>mlContext.Model.Load</c>, call <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(FaceDetector).Assembly)</c>
/// and make sure the models are in that folder. Only a detector with default thresholds names this contract
/// (<see cref="FaceDetector.ContractName"/>): other settings could not be rebuilt from the name, so such a pipeline
/// refuses to save rather than reload with different thresholds. One detector per folder is shared by every loaded
/// model of the process (ONNX Runtime sessions run concurrently).
/// </remarks>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class FaceDetectorLandmarkFactory : CustomMappingFactory<LandmarkSourceInput, LandmarkSourceOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.FaceDetectorLandmarks.v1";

    private static readonly ConcurrentDictionary<string, Lazy<FaceDetector>> Detectors = new(StringComparer.Ordinal);

    /// <summary>The contract name for a detector with <paramref name="options"/>: <see cref="ContractName"/> when the
    /// thresholds and colour order are the defaults (threads do not change results), else null.</summary>
    public static string? ContractNameFor(FaceDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var d = new FaceDetectorOptions();
        return options.ConfidenceThreshold == d.ConfidenceThreshold && options.TopK == d.TopK && options.NmsThreshold == d.NmsThreshold
            && options.DetectorChannelOrder == d.DetectorChannelOrder ? ContractName : null;
    }

    /// <summary>The detector a loaded model uses: default options, models from <see cref="ModelStore.ResolveDirectory"/>.</summary>
    /// <exception cref="FileNotFoundException">fr_detect.onnx or fr_landmark.onnx is not in that folder (the message says how to get them).</exception>
    public static FaceDetector SharedDetector()
    {
        var dir = ModelStore.ResolveDirectory();
        foreach (var f in new[] { "fr_detect.onnx", "fr_landmark.onnx" })
            if (!File.Exists(Path.Combine(dir, f)))
                throw new FileNotFoundException(
                    $"loading a model whose AlignFaces uses the face detector ({ContractName}) needs {f} in {dir}: run `xcos models fetch`, or set {ModelStore.EnvironmentVariable} to the models folder",
                    Path.Combine(dir, f));
        var lazy = Detectors.GetOrAdd(dir, d => new Lazy<FaceDetector>(() => FaceDetector.FromDirectory(d)));
        try { return lazy.Value; }
        catch
        {
            Detectors.TryRemove(new KeyValuePair<string, Lazy<FaceDetector>>(dir, lazy));  // a later load may find the models
            throw;
        }
    }

    /// <inheritdoc/>
    public override Action<LandmarkSourceInput, LandmarkSourceOutput> GetMapping() => LandmarkSourceMapping.Create(SharedDetector());
}
