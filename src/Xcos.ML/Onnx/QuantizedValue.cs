namespace Xcos.ML.Onnx;

/// <summary>Quantization of one activation: calibrated range and the per-tensor scale and zero point chosen from it.</summary>
/// <param name="Name">The float value's name.</param>
/// <param name="Low">Low end of the calibrated range.</param>
/// <param name="High">High end of the calibrated range.</param>
/// <param name="Scale">Quantization step.</param>
/// <param name="ZeroPoint">Integer that stands for 0.0 (0 for signed activations).</param>
public sealed record QuantizedValue(string Name, float Low, float High, float Scale, int ZeroPoint);
