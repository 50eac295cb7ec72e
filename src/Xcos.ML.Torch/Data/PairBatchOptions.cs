using TorchSharp;
using Xcos.ML.Data;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Data;

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
