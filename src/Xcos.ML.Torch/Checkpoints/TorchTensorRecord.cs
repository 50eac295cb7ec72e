using static TorchSharp.torch;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>
/// A tensor as a <c>torch.save</c> file describes it (<c>torch._utils._rebuild_tensor_v2</c> of a storage): element
/// type, shape, stride and offset into a storage. Outside a checkpoint's state dict tensors stay described, not
/// loaded (optimiser moments, for example); <see cref="ToTensor"/> builds one where its storage bytes were read.
/// </summary>
public sealed class TorchTensorRecord
{
    internal TorchTensorRecord(TorchStorage storage, long offset, long[] shape, long[] stride)
    {
        Storage = storage;
        Offset = offset;
        Shape = shape;
        Stride = stride;
    }

    internal TorchStorage Storage { get; }
    /// <summary>Element type of the storage (float32, int64, ...).</summary>
    public ScalarType DType => Storage.DType;
    /// <summary>Size of each dimension, outermost first.</summary>
    public IReadOnlyList<long> Shape { get; }
    /// <summary>Stride in elements.</summary>
    public IReadOnlyList<long> Stride { get; }
    /// <summary>Offset of the first element in the storage.</summary>
    public long Offset { get; }

    /// <summary>A CPU tensor with the described values (the caller owns it).</summary>
    /// <exception cref="InvalidDataException">The storage's bytes were not read, or the view does not fit in the storage.</exception>
    public Tensor ToTensor()
    {
        var data = Storage.Data ?? throw new InvalidDataException($"storage '{Storage.Key}' was not read.");
        if (Stride.Count != Shape.Count || Shape.Any(d => d < 0) || Stride.Any(d => d < 0))
            throw new InvalidDataException($"tensor of storage '{Storage.Key}' has shape [{string.Join(",", Shape)}] and stride [{string.Join(",", Stride)}]: they must have the same length and no negative entries.");
        long last = Offset;
        for (int i = 0; i < Shape.Count; i++)
        {
            if (Shape[i] == 0) { last = -1; break; }
            last += (Shape[i] - 1) * Stride[i];
        }
        if (Offset < 0 || last >= Storage.Count)
            throw new InvalidDataException($"tensor [{string.Join(",", Shape)}] at offset {Offset} does not fit in storage '{Storage.Key}' of {Storage.Count} elements.");
        using var scope = NewDisposeScope();
        var flat = empty([Storage.Count], Storage.DType);
        if (data.Length > 0) flat.bytes = data;
        return flat.as_strided(Shape.ToArray(), Stride.ToArray(), Offset).clone().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override string ToString() => $"tensor {DType} [{string.Join(",", Shape)}]";
}
