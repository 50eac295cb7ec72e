using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Onnx;

namespace Xcos.ML.MLNet;

/// <summary>Options of <see cref="XcosEmbeddingEstimator"/> (<c>mlContext.Transforms.XcosEmbedding</c>).</summary>
/// <remarks>
/// The model comes from exactly one of <see cref="ModelBytes"/>, <see cref="ModelPath"/> (an ONNX embedding model
/// with the value names of <see cref="XcosOnnxExport.BuildEmbeddingModel"/>: input <c>image</c>, outputs <c>grid</c>,
/// <c>embedding</c>, <c>face_code</c>, <c>target_embedding</c>) or <see cref="Weights"/> (exported with
/// <see cref="ExportOptions"/>). Set an output column name to null to leave that output out; the optional outputs
/// (face code, target embedding) are also left out when the model does not have them.
/// </remarks>
public class XcosEmbeddingOptions
{
    /// <summary>ONNX embedding model as bytes. Default null.</summary>
    public byte[]? ModelBytes { get; set; }

    /// <summary>ONNX embedding model file. Default null.</summary>
    public string? ModelPath { get; set; }

    /// <summary>xCos weights by state-dict name (e.g. from a checkpoint), exported to ONNX at construction. Default null.</summary>
    public IReadOnlyDictionary<string, WeightTensor>? Weights { get; set; }

    /// <summary>Export settings used with <see cref="Weights"/> (BN folding, epsilon). Default: <see cref="XcosOnnxExportOptions"/> defaults.</summary>
    public XcosOnnxExportOptions ExportOptions { get; set; } = new();

    /// <summary>Input column: the normalised CHW face tensor, a vector of 3 x 112 x 112 Single (e.g. "FaceTensor" from AlignFaces). Default "FaceTensor".</summary>
    public string InputColumnName { get; set; } = "FaceTensor";

    /// <summary>Output column of the grid feature map (C x 7 x 7 Single, 32 x 7 x 7 = 1568 for xCos); null for none. Default "Grid".</summary>
    public string? GridColumnName { get; set; } = "Grid";

    /// <summary>Output column of the flattened, L2-normalised grid (1568 Single for xCos); null for none. Default "Embedding".</summary>
    public string? EmbeddingColumnName { get; set; } = "Embedding";

    /// <summary>Output column of the attention face code (16 x 7 x 7 Single), where the model has it; null for none. Default "FaceCode".</summary>
    public string? FaceCodeColumnName { get; set; } = "FaceCode";

    /// <summary>
    /// Output column of the ArcFace target embedding (512 Single), where the model has it; null for none. Default null:
    /// it runs a second backbone, which scoring does not need.
    /// </summary>
    public string? TargetEmbeddingColumnName { get; set; }

    /// <summary>
    /// Float32 (default) runs the model as given; Int8 quantizes it first (<see cref="OnnxQuantizer"/>: int8 weights per
    /// channel, activations calibrated on <see cref="CalibrationFaces"/>), unless it is already quantized.
    /// </summary>
    public OnnxPrecision Precision { get; set; }

    /// <summary>
    /// Aligned 112x112 faces whose activations set the int8 scales; null uses <see cref="DefaultCalibrationFaces"/>
    /// synthetic faces. The set is named in the quantized model's metadata.
    /// </summary>
    public IReadOnlyList<RgbImage>? CalibrationFaces { get; set; }

    /// <summary>Synthetic faces calibrated on when <see cref="CalibrationFaces"/> is null.</summary>
    public const int DefaultCalibrationFaces = 32;

    /// <summary>GPU device for ONNX Runtime; null runs on the CPU. Default null.</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>Run on the CPU when the GPU cannot be used. Default false.</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>A copy of these options for the faces of one pair: column names get <paramref name="suffix"/> (e.g. "1": "FaceTensor1" to "Grid1", "Embedding1", "FaceCode1").</summary>
    public XcosEmbeddingOptions ForFace(string suffix)
    {
        var copy = (XcosEmbeddingOptions)MemberwiseClone();
        copy.InputColumnName = InputColumnName + suffix;
        copy.GridColumnName = GridColumnName == null ? null : GridColumnName + suffix;
        copy.EmbeddingColumnName = EmbeddingColumnName == null ? null : EmbeddingColumnName + suffix;
        copy.FaceCodeColumnName = FaceCodeColumnName == null ? null : FaceCodeColumnName + suffix;
        copy.TargetEmbeddingColumnName = TargetEmbeddingColumnName == null ? null : TargetEmbeddingColumnName + suffix;
        return copy;
    }
}
