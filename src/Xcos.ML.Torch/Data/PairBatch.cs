using TorchSharp;
using Xcos.ML.Data;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Data;

/// <summary>A decoded batch of training pairs, as flat CHW floats (CPU memory, not yet tensors).</summary>
/// <param name="Index">Batch number within the epoch.</param>
/// <param name="Count">Pairs in the batch.</param>
/// <param name="Images1">First images, <c>Count * 3 * Size * Size</c> floats.</param>
/// <param name="Images2">Second images.</param>
/// <param name="Labels1">Identity label of each first image.</param>
/// <param name="Labels2">Identity label of each second image.</param>
/// <param name="Same">Whether each pair shares an identity.</param>
/// <param name="Size">Image side.</param>
public sealed record PairBatch(int Index, int Count, float[] Images1, float[] Images2, long[] Labels1, long[] Labels2, bool[] Same, int Size)
{
    /// <summary>First images as a [Count,3,Size,Size] tensor on <paramref name="device"/> (owned by the caller's dispose scope).</summary>
    public Tensor Tensor1(Device device) => tensor(Images1, [Count, 3, Size, Size]).to(device);

    /// <summary>Second images as a [Count,3,Size,Size] tensor.</summary>
    public Tensor Tensor2(Device device) => tensor(Images2, [Count, 3, Size, Size]).to(device);

    /// <summary>Labels of the first images, int64 [Count].</summary>
    public Tensor LabelTensor1(Device device) => tensor(Labels1).to(device);

    /// <summary>Labels of the second images, int64 [Count].</summary>
    public Tensor LabelTensor2(Device device) => tensor(Labels2).to(device);
}
