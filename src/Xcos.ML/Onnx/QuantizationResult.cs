using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Onnx;

/// <summary>What <see cref="OnnxQuantizer.Quantize"/> produced.</summary>
/// <param name="Model">The QDQ model.</param>
/// <param name="QuantizedNodes">Name (or op type and index) of every node whose weights became int8.</param>
/// <param name="Activations">Each quantized activation with its range, scale and zero point.</param>
public sealed record QuantizationResult(ModelProto Model, IReadOnlyList<string> QuantizedNodes, IReadOnlyList<QuantizedValue> Activations);
