using Xcos.ML.FaceModels;
using Xcos.ML.Images;

namespace Xcos.ML.Torch.Verification;

/// <summary>Threshold, detector, normalisation, batch size and flip of a <see cref="CheckpointFacePairVerifier"/>.</summary>
public sealed class CheckpointFacePairVerifierOptions
{
    /// <summary>Threshold on xCos; null (default): results are undecided.</summary>
    public double? Threshold { get; set; }

    /// <summary>Finds and aligns faces in photos; null (default): inputs are aligned 112x112 faces. Not disposed by the verifier.</summary>
    public FaceDetector? Detector { get; set; }

    /// <summary>Pixel normalisation. Default the xCos <c>(x/255 - 0.5)/0.5</c>.</summary>
    public FaceTensorOptions Normalization { get; set; } = FaceTensorOptions.Default;

    /// <summary>Faces per forward pass. Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>
    /// Flip test-time augmentation: each face's grid is the sum of the grids of the image and of its mirror (mirrored
    /// back, so cells keep their place), and so is its target embedding. Default false.
    /// </summary>
    public bool Flip { get; set; }
}
