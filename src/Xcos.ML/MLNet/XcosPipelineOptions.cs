using Xcos.ML.Images;
using Xcos.ML.Onnx;

namespace Xcos.ML.MLNet;

/// <summary>
/// Options of <see cref="XcosPipeline.Create(Microsoft.ML.TransformsCatalog, XcosPipelineOptions)"/>: a trained xCos
/// network (its weights, or its two ONNX models) verifying pairs of face images with landmarks or already aligned.
/// </summary>
public sealed class XcosPipelineOptions : FacePairPipelineOptions
{
    /// <summary>xCos weights for both the embedding model and the pair head. Default null (then give the two ONNX models).</summary>
    public IReadOnlyDictionary<string, WeightTensor>? Weights { get; set; }

    /// <summary>ONNX embedding model (used when <see cref="Weights"/> is null). Default null.</summary>
    public byte[]? EmbeddingModelBytes { get; set; }

    /// <summary>ONNX pair-head model (used when <see cref="Weights"/> is null). Default null.</summary>
    public byte[]? PairHeadModelBytes { get; set; }

    /// <summary>Export settings used with <see cref="Weights"/>. Default: <see cref="XcosOnnxExportOptions"/> defaults.</summary>
    public XcosOnnxExportOptions ExportOptions { get; set; } = new();

    /// <summary>Input: landmarks of face 1 (10 or 136 Single, source pixels). Default "Landmarks1".</summary>
    public string Landmarks1ColumnName { get; set; } = "Landmarks1";

    /// <summary>Input: landmarks of face 2. Default "Landmarks2".</summary>
    public string Landmarks2ColumnName { get; set; } = "Landmarks2";

    /// <summary>Pixel normalisation of the network input. Default: xCos <c>(x/255 - 0.5)/0.5</c>, RGB.</summary>
    public FaceTensorOptions Tensor { get; set; } = new();
}
