namespace Xcos.ML.FaceModels;

/// <summary>Outcome of a detection.</summary>
public enum FaceDetectionStatus
{
    /// <summary>At least one face was found; <see cref="FaceDetectionResult.Primary"/> is set.</summary>
    Ok,
    /// <summary>No box scored above the confidence threshold.</summary>
    NoFace,
}
