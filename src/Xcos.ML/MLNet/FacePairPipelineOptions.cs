using Xcos.ML.Metrics;

namespace Xcos.ML.MLNet;

/// <summary>
/// What both face-pair verification pipelines (<c>mlContext.Transforms.VerifyFacePairs</c>) share: the input columns and
/// image folder, the threshold, the GPU and the output. Give one of its two kinds: <see cref="XcosPipelineOptions"/> (a
/// trained xCos network) or <see cref="FacePhotoPipelineOptions"/> (an ONNX face model on raw photos).
/// </summary>
public abstract class FacePairPipelineOptions
{
    // Only the two pipelines' options derive from it, so a third kind cannot be handed to VerifyFacePairs.
    private protected FacePairPipelineOptions() { }

    /// <summary>Folder that relative image paths are read from; null for paths as given. Default null.</summary>
    public string? ImageFolder { get; set; }

    /// <summary>Input: path of the image of face 1. Default "ImagePath1".</summary>
    public string ImagePath1ColumnName { get; set; } = "ImagePath1";

    /// <summary>Input: path of the image of face 2. Default "ImagePath2".</summary>
    public string ImagePath2ColumnName { get; set; } = "ImagePath2";

    /// <summary>
    /// The images are faces already aligned onto the ArcFace template (at 112x112 or any size): no landmark columns are
    /// read and no detector runs (<see cref="AlignedFaceLandmarks"/>). Default false.
    /// </summary>
    public bool Aligned { get; set; }

    /// <summary>Decision threshold; null chooses it from <see cref="LabelColumnName"/> at Fit. Default null.</summary>
    public float? Threshold { get; set; }

    /// <summary>Boolean "same identity" column for choosing the threshold. Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Threshold rule. Default <see cref="XcosThresholdSelection.BestAccuracy"/>.</summary>
    public XcosThresholdSelection ThresholdSelection { get; set; } = XcosThresholdSelection.BestAccuracy;

    /// <summary>Protocol settings for choosing the threshold. Default: the standard 10-fold protocol.</summary>
    public VerificationOptions Verification { get; set; } = new();

    /// <summary>GPU device for ONNX Runtime; null runs on the CPU. Default null.</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>Run on the CPU when the GPU cannot be used. Default false.</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>
    /// Keep the loaded images, face tensors, grids and face codes in the output. Default false: the output adds
    /// only the statuses, Score, CosineMap, Attention, Cosine, PredictedLabel and the pipeline's other result columns.
    /// </summary>
    public bool KeepIntermediateColumns { get; set; }
}
