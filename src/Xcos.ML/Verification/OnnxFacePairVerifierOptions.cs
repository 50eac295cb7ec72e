using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;

namespace Xcos.ML.Verification;

/// <summary>What <see cref="OnnxFacePairVerifier"/> loads and how it runs: model files, xCos variant, precision, threshold, batch size, detector.</summary>
public sealed class OnnxFacePairVerifierOptions
{
    /// <summary>Models folder; null uses <see cref="ModelStore.ResolveDirectory"/> (XCOS_MODELS, else the user's data folder).</summary>
    public string? ModelsDir { get; set; }

    /// <summary>Descriptor file; null uses the shipped <c>data/fr_feature/descriptor.json</c>.</summary>
    public string? DescriptorPath { get; set; }

    /// <summary>
    /// xCos variant: <see cref="XcosVariant.Weights"/> (weight-derived from the model's affine head; default) or
    /// <see cref="XcosVariant.Learned"/> (the paper's grid layer + attention trained head-only on the model's cosine, run
    /// by ONNX Runtime: <see cref="LearnedHead"/>). Either way the model's cosine decides.
    /// </summary>
    public XcosVariant Variant { get; set; } = XcosVariant.Weights;

    /// <summary>Learned head file for the learned variant; null takes <c>learned_head.onnx</c> next to the descriptor.</summary>
    public string? LearnedHeadPath { get; set; }

    /// <summary>Cosine threshold; null takes the descriptor's.</summary>
    public double? Threshold { get; set; }

    /// <summary>Attention override; null takes the descriptor's.</summary>
    public WeightDerivedAttention? Attention { get; set; }

    /// <summary>Centring override; null takes the descriptor's (false when it names no calibration file).</summary>
    public bool? Centre { get; set; }

    /// <summary>Whether to apply the descriptor's xCos calibration (xcos_scale, xcos_offset, xcos_match_cosine). Default true.</summary>
    public bool Calibrate { get; set; } = true;

    /// <summary>Float model, or its int8 form next to it (<see cref="OnnxFaceEmbedder.Int8Path"/>). Default float.</summary>
    public OnnxPrecision Precision { get; set; }

    /// <summary>Flip test-time augmentation: each face is embedded as image + mirror (<see cref="FlipEmbedding"/>). Default false.</summary>
    public bool Flip { get; set; }

    /// <summary>Inputs are already aligned faces of the model's input size: no detector is loaded. Default false.</summary>
    public bool AlignedInput { get; set; }

    /// <summary>ONNX Runtime intra-op threads per session; 0 (default) lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Faces per ONNX Runtime call. Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Face detector thresholds (confidence, NMS overlap, top K) used on photos that are not already aligned.</summary>
    public FaceDetectorOptions Detector { get; set; } = new();
}
