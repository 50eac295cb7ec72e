using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Xcos.Server;

/// <summary>
/// The bounded work queue in front of the models: <see cref="XcosServerOptions.Workers"/> requests run at once, up to
/// <see cref="XcosServerOptions.QueueLimit"/> wait (oldest first), and any more are refused at once (503 with
/// Retry-After) instead of piling up in memory. A <see cref="ConcurrencyLimiter"/> does the counting.
/// </summary>
internal sealed class InferenceQueue : IDisposable
{
    private readonly ConcurrencyLimiter _limiter;
    private readonly int _workers;
    private long _completed;
    private double _busySeconds;
    private readonly object _lock = new();

    public InferenceQueue(IOptions<XcosServerOptions> options)
    {
        var o = options.Value;
        _workers = o.Workers;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = o.Workers, QueueLimit = o.QueueLimit, QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    /// <summary>Requests waiting for a worker now.</summary>
    public long Waiting => _limiter.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>Requests running the model now.</summary>
    public long Running => _workers - (_limiter.GetStatistics()?.CurrentAvailablePermits ?? _workers);

    /// <summary>Waits for a worker; null when the queue is full.</summary>
    public async ValueTask<RateLimitLease?> EnterAsync(CancellationToken ct)
    {
        var lease = await _limiter.AcquireAsync(1, ct).ConfigureAwait(false);
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        return null;
    }

    /// <summary>Records how long a worker was busy (for <see cref="RetryAfterSeconds"/>).</summary>
    public void Record(TimeSpan busy)
    {
        lock (_lock)
        {
            _completed++;
            _busySeconds += busy.TotalSeconds;
        }
    }

    /// <summary>When a refused client may expect a free place: the queue's length times the mean work time over the workers, at least 1 s.</summary>
    public int RetryAfterSeconds()
    {
        double mean;
        lock (_lock) mean = _completed == 0 ? 1 : _busySeconds / _completed;
        return (int)Math.Clamp(Math.Ceiling((Waiting + 1) * mean / _workers), 1, 60);
    }

    public void Dispose() => _limiter.Dispose();
}
