using static TorchSharp.torch;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>One storage of a <c>torch.save</c> file: its key, element type and count, and its bytes once read.</summary>
internal sealed class TorchStorage(string key, ScalarType dtype, int elementSize, long count)
{
    public string Key { get; } = key;
    public ScalarType DType { get; } = dtype;
    public int ElementSize { get; } = elementSize;
    public long Count { get; } = count;
    public long ByteLength => checked(Count * ElementSize);
    public byte[]? Data { get; set; }

    /// <summary>Element type and size of a storage class name such as <c>FloatStorage</c>.</summary>
    public static (ScalarType DType, int Size)? TypeOf(string className) => className switch
    {
        "FloatStorage" => (ScalarType.Float32, 4),
        "DoubleStorage" => (ScalarType.Float64, 8),
        "HalfStorage" => (ScalarType.Float16, 2),
        "BFloat16Storage" => (ScalarType.BFloat16, 2),
        "LongStorage" => (ScalarType.Int64, 8),
        "IntStorage" => (ScalarType.Int32, 4),
        "ShortStorage" => (ScalarType.Int16, 2),
        "CharStorage" => (ScalarType.Int8, 1),
        "ByteStorage" => (ScalarType.Byte, 1),
        "BoolStorage" => (ScalarType.Bool, 1),
        _ => null,
    };
}
