using Google.Protobuf;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Onnx;

/// <summary>Factories for ONNX node attributes (<see cref="AttributeProto"/>), one per value kind.</summary>
internal static class OnnxAttr
{
    /// <summary>A node attribute holding one 64-bit integer (ONNX type INT).</summary>
    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A node attribute holding one float (ONNX type FLOAT).</summary>
    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A STRING attribute (UTF-8).</summary>
    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>A node attribute holding a list of 64-bit integers (ONNX type INTS), e.g. kernel_shape.</summary>
    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>A node attribute holding a list of floats (ONNX type FLOATS).</summary>
    public static AttributeProto Floats(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    /// <summary>A TENSOR attribute (e.g. the <c>value</c> of a Constant node).</summary>
    public static AttributeProto Tensor(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };
}
