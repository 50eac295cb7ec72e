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

/// <summary>Batch size, flipping, shuffling, prefetching and decode threads of a <see cref="PairBatchSource"/>.</summary>
public sealed record PairBatchOptions
{
    /// <summary>Pairs per batch. Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Probability of mirroring each image left-right (augmentation). Default 0.5; 0 turns it off.</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>Shuffle the pair order each epoch (the original's DataLoader shuffles). Default true.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Drop a last batch smaller than this (BatchNorm needs at least 2 samples in train mode). Default 2.</summary>
    public int MinBatchSize { get; init; } = 2;

    /// <summary>Decoded batches waiting ahead of the training step. Default 2.</summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>Threads decoding the images of one batch. Default 1 (one worker thread besides the training thread).</summary>
    public int DecodeThreads { get; init; } = 1;
}

/// <summary>
/// The training pairs of one epoch over an <see cref="ImageFolder"/>: pairs drawn as the original
/// (<see cref="PairSampler"/>: one partner per image, same/different by a fair coin), shuffled, batched and decoded
/// ahead of the training step. Everything random is seeded by (seed, epoch, position), so an epoch is the same
/// whenever it runs: a resumed run sees exactly the batches an uninterrupted one would.
/// </summary>
public sealed class PairBatchSource
{
    private readonly ImageFolder _folder;
    private readonly FaceImageLoader _loader;

    /// <summary>Batches of pairs drawn from <paramref name="folder"/>; each epoch's order follows from <paramref name="seed"/> and the epoch number alone, so a resumed run sees the same pairs.</summary>
    public PairBatchSource(ImageFolder folder, FaceImageLoader loader, PairBatchOptions? options = null, int seed = 0)
    {
        _folder = folder ?? throw new ArgumentNullException(nameof(folder));
        _loader = loader ?? throw new ArgumentNullException(nameof(loader));
        Options = options ?? new PairBatchOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.DecodeThreads, 1);
        Seed = seed;
        // fail now (not in the middle of an epoch) when pairs cannot be drawn
        _ = new PairSampler(folder, new PairSamplerOptions { Seed = seed });
    }

    /// <summary>Batch size, flipping, shuffling and prefetching in effect.</summary>
    public PairBatchOptions Options { get; }

    /// <summary>Base seed; epoch e draws with a seed derived from it and e.</summary>
    public int Seed { get; }

    /// <summary>The training images, one folder per identity.</summary>
    public ImageFolder Folder => _folder;

    /// <summary>The pairs of <paramref name="epoch"/>, in training order.</summary>
    public SampledPair[] EpochPairs(int epoch)
    {
        var pairs = new PairSampler(_folder, new PairSamplerOptions { Seed = SeedFor(Seed, epoch, 0) }).SampleEpoch();
        if (Options.Shuffle)
        {
            var r = new Random(SeedFor(Seed, epoch, 1));
            r.Shuffle(pairs);
        }
        return pairs;
    }

    /// <summary>Number of batches per epoch.</summary>
    public int BatchesPerEpoch
    {
        get
        {
            int n = _folder.Count, b = Options.BatchSize;
            int full = n / b, rest = n % b;
            return full + (rest >= Math.Max(1, Options.MinBatchSize) ? 1 : 0);
        }
    }

    /// <summary>The prefetching loader of <paramref name="epoch"/>'s batches.</summary>
    public PrefetchLoader<PairBatch> Epoch(int epoch)
    {
        var pairs = EpochPairs(epoch);
        return new PrefetchLoader<PairBatch>(BatchesPerEpoch, (i, ct) => Decode(epoch, pairs, i, ct), Options.Prefetch);
    }

    private PairBatch Decode(int epoch, SampledPair[] pairs, int batch, CancellationToken ct)
    {
        int start = batch * Options.BatchSize, count = Math.Min(Options.BatchSize, pairs.Length - start);
        int f = _loader.Options.ImageFloats;
        var x1 = new float[count * f];
        var x2 = new float[count * f];
        var l1 = new long[count];
        var l2 = new long[count];
        var same = new bool[count];
        var samples = _folder.Samples;
        void One(int k)
        {
            var p = pairs[start + k];
            // flips depend only on (seed, epoch, pair position): identical whichever thread decodes
            var r = new Random(SeedFor(Seed, epoch, 2 + start + k));
            bool f1 = r.NextDouble() < Options.FlipProbability, f2 = r.NextDouble() < Options.FlipProbability;
            _loader.Load(samples[p.First].Path, x1.AsSpan(k * f, f), f1);
            _loader.Load(samples[p.Second].Path, x2.AsSpan(k * f, f), f2);
            l1[k] = samples[p.First].Label;
            l2[k] = samples[p.Second].Label;
            same[k] = p.Same;
        }
        if (Options.DecodeThreads == 1) for (int k = 0; k < count; k++) { ct.ThrowIfCancellationRequested(); One(k); }
        else
        {
            try { Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Options.DecodeThreads, CancellationToken = ct }, One); }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                // report the bad file itself, not a wrapper
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
            }
        }
        return new PairBatch(batch, count, x1, x2, l1, l2, same, _loader.Options.Size);
    }

    /// <summary>A 31-bit seed mixed from a base seed, an epoch and a stream number (SplitMix64 finaliser).</summary>
    public static int SeedFor(int seed, int epoch, long stream)
    {
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ ((ulong)(uint)epoch << 32) ^ (ulong)stream * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
