using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace Xcos.ML.Torch.Data;

/// <summary>
/// Runs a producer ahead of its consumer: item i is <c>produce(i)</c>, computed on a worker thread and handed over
/// through a bounded channel (at most <c>capacity</c> finished items wait), so decoding overlaps the training step.
/// Items come out in index order. A producer exception is rethrown to the consumer, unchanged, at the position of
/// the failing item.
/// </summary>
/// <typeparam name="T">Produced item (e.g. a <see cref="PairBatch"/>).</typeparam>
public sealed class PrefetchLoader<T>
{
    private readonly int _count;
    private readonly Func<int, CancellationToken, T> _produce;
    private readonly int _capacity;

    /// <param name="count">Number of items.</param>
    /// <param name="produce">Computes item i; called on a worker thread, in index order.</param>
    /// <param name="capacity">Finished items that may wait for the consumer (at least 1). Default 2.</param>
    public PrefetchLoader(int count, Func<int, CancellationToken, T> produce, int capacity = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentNullException.ThrowIfNull(produce);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _count = count; _produce = produce; _capacity = capacity;
    }

    /// <summary>Items the loader yields over a full read.</summary>
    public int Count => _count;

    private readonly record struct Slot(T? Item, ExceptionDispatchInfo? Error);

    /// <summary>
    /// Yields the items from <paramref name="start"/> on, in order. Stopping the enumeration early (or cancelling)
    /// stops the worker; the enumerator's Dispose waits for it, so no decoding outlives the loop.
    /// </summary>
    public IEnumerable<T> Read(int start = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        var channel = Channel.CreateBounded<Slot>(new BoundedChannelOptions(_capacity)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = stop.Token;
        var worker = Task.Factory.StartNew(() =>
        {
            try
            {
                for (int i = start; i < _count; i++)
                {
                    token.ThrowIfCancellationRequested();
                    Slot slot;
                    try { slot = new Slot(_produce(i, token), null); }
                    catch (Exception e) { slot = new Slot(default, ExceptionDispatchInfo.Capture(e)); }
                    // blocks while the channel is full: this is the bound on work done ahead
                    if (!channel.Writer.WaitToWriteAsync(token).AsTask().GetAwaiter().GetResult()) return;
                    channel.Writer.TryWrite(slot);
                    if (slot.Error is not null) return;
                }
            }
            catch (OperationCanceledException) { }
            finally { channel.Writer.TryComplete(); }
        }, token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        try
        {
            var reader = channel.Reader;
            while (true)
            {
                Slot slot;
                try
                {
                    if (!reader.WaitToReadAsync(cancellationToken).AsTask().GetAwaiter().GetResult()) break;
                }
                catch (OperationCanceledException) { break; }
                if (!reader.TryRead(out slot)) continue;
                slot.Error?.Throw();
                yield return slot.Item!;
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            stop.Cancel();
            try { worker.GetAwaiter().GetResult(); } catch (OperationCanceledException) { }
            // items produced but never consumed
            while (channel.Reader.TryRead(out var left)) (left.Item as IDisposable)?.Dispose();
        }
    }
}
