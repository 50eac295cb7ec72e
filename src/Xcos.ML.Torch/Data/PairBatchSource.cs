using TorchSharp;
using Xcos.ML.Data;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Data;

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
