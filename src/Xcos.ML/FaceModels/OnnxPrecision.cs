namespace Xcos.ML.FaceModels;

/// <summary>Which form of an ONNX face model runs the embedding.</summary>
public enum OnnxPrecision
{
    /// <summary>The model file as published (float32).</summary>
    Float32,
    /// <summary>
    /// Its int8 QDQ form (<see cref="Onnx.OnnxQuantizer"/>), stored next to it as <c>NAME.int8.onnx</c>
    /// (<see cref="OnnxFaceEmbedder.Int8Path"/>) by <c>xcos export --precision int8</c>.
    /// </summary>
    Int8,
}
