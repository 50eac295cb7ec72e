using System.Runtime.InteropServices;
using Google.Protobuf;
using Xcos.ML.Onnx.Proto;
using DataType = Xcos.ML.Onnx.Proto.TensorProto.Types.DataType;

namespace Xcos.ML.Onnx;

/// <summary>Conversions between <see cref="TensorProto"/> and plain .NET arrays.</summary>
internal static class OnnxTensors
{
    /// <summary>A FLOAT tensor stored as little-endian <c>raw_data</c>.</summary>
    /// <exception cref="ArgumentException">The element count of <paramref name="shape"/> differs from the data length.</exception>
    public static TensorProto FromFloat(string name, float[] data, long[] shape)
    {
        CheckCount(name, data.Length, shape);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.AddRange(shape);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan()));
        return t;
    }

    /// <summary>An INT64 tensor stored as little-endian <c>raw_data</c>.</summary>
    public static TensorProto FromInt64(string name, long[] data, long[] shape)
    {
        CheckCount(name, data.Length, shape);
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        t.Dims.AddRange(shape);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan()));
        return t;
    }

    /// <summary>An INT8 tensor stored as <c>raw_data</c>.</summary>
    public static TensorProto FromInt8(string name, sbyte[] data, long[] shape) => Raw(name, DataType.Int8, MemoryMarshal.AsBytes(data.AsSpan()), data.Length, shape);

    /// <summary>A UINT8 tensor stored as <c>raw_data</c>.</summary>
    public static TensorProto FromUInt8(string name, byte[] data, long[] shape) => Raw(name, DataType.Uint8, data, data.Length, shape);

    /// <summary>An INT32 tensor stored as little-endian <c>raw_data</c>.</summary>
    public static TensorProto FromInt32(string name, int[] data, long[] shape) => Raw(name, DataType.Int32, MemoryMarshal.AsBytes(data.AsSpan()), data.Length, shape);

    private static TensorProto Raw(string name, DataType type, ReadOnlySpan<byte> bytes, int count, long[] shape)
    {
        CheckCount(name, count, shape);
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(shape);
        t.RawData = ByteString.CopyFrom(bytes);
        return t;
    }

    /// <summary>
    /// The values of a FLOAT, DOUBLE or FLOAT16 tensor as float32, read from <c>raw_data</c> or the typed field.
    /// </summary>
    /// <exception cref="InvalidDataException">Other element types, external data, or a value count that does not match the dims.</exception>
    public static float[] ToFloat(TensorProto t)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw new InvalidDataException($"tensor '{t.Name}' keeps its data in an external file; only embedded data can be read");
        long count = t.Dims.Aggregate(1L, (a, b) => a * b);
        float[] values = (DataType)t.DataType switch
        {
            DataType.Float => t.HasRawData ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : t.FloatData.ToArray(),
            DataType.Double => t.HasRawData
                ? MemoryMarshal.Cast<byte, double>(t.RawData.Span).ToArray().Select(v => (float)v).ToArray()
                : t.DoubleData.Select(v => (float)v).ToArray(),
            // FLOAT16 without raw_data keeps each half's bits in the low 16 bits of an int32_data entry.
            DataType.Float16 => t.HasRawData
                ? MemoryMarshal.Cast<byte, Half>(t.RawData.Span).ToArray().Select(v => (float)v).ToArray()
                : t.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(),
            _ => throw new InvalidDataException($"tensor '{t.Name}' has element type {(DataType)t.DataType}; expected FLOAT, DOUBLE or FLOAT16"),
        };
        if (values.Length != count)
            throw new InvalidDataException($"tensor '{t.Name}' holds {values.Length} values but its dims [{string.Join(",", t.Dims)}] need {count}");
        return values;
    }

    /// <summary>The values of an INT64 or INT32 tensor as int64.</summary>
    public static long[] ToInt64(TensorProto t)
    {
        long count = t.Dims.Aggregate(1L, (a, b) => a * b);
        long[] values = (DataType)t.DataType switch
        {
            DataType.Int64 => t.HasRawData ? MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray() : t.Int64Data.ToArray(),
            DataType.Int32 => t.HasRawData
                ? MemoryMarshal.Cast<byte, int>(t.RawData.Span).ToArray().Select(v => (long)v).ToArray()
                : t.Int32Data.Select(v => (long)v).ToArray(),
            _ => throw new InvalidDataException($"tensor '{t.Name}' has element type {(DataType)t.DataType}; expected INT64 or INT32"),
        };
        if (values.Length != count)
            throw new InvalidDataException($"tensor '{t.Name}' holds {values.Length} values but its dims [{string.Join(",", t.Dims)}] need {count}");
        return values;
    }

    private static void CheckCount(string name, int length, long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != length)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(",", shape)}] needs {count} values, got {length}");
    }
}
