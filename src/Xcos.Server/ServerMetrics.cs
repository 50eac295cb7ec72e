using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Xcos.Server;

/// <summary>
/// The counters /metrics shows, in the Prometheus text format (version 0.0.4): requests by route and status, a
/// latency histogram by route, faces processed by status, and the work queue's length and running requests.
/// </summary>
internal sealed class ServerMetrics
{
    /// <summary>Upper bounds (seconds) of the latency histogram's buckets.</summary>
    internal static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly ConcurrentDictionary<(string Route, int Status), long> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _latency = new();
    private readonly ConcurrentDictionary<string, long> _faces = new();

    private sealed class Histogram
    {
        public readonly long[] Counts = new long[Buckets.Length];
        public long Count;
        public double Sum;
    }

    /// <summary>Counts one finished request.</summary>
    public void Request(string route, int status, TimeSpan elapsed)
    {
        _requests.AddOrUpdate((route, status), 1, (_, n) => n + 1);
        var h = _latency.GetOrAdd(route, _ => new Histogram());
        double s = elapsed.TotalSeconds;
        lock (h)
        {
            h.Count++;
            h.Sum += s;
            for (int i = 0; i < Buckets.Length; i++)
                if (s <= Buckets[i]) h.Counts[i]++;
        }
    }

    /// <summary>Counts a face the models processed, by its status text ("ok", "no_face", ...).</summary>
    public void Face(string status) => _faces.AddOrUpdate(status, 1, (_, n) => n + 1);

    /// <summary>The text of /metrics.</summary>
    public string Render(InferenceQueue queue, bool ready)
    {
        var t = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        t.AppendLine("# HELP xcos_http_requests_total HTTP requests answered, by route and status code.");
        t.AppendLine("# TYPE xcos_http_requests_total counter");
        foreach (var ((route, status), n) in _requests.OrderBy(kv => kv.Key.Route, StringComparer.Ordinal).ThenBy(kv => kv.Key.Status))
            t.Append(inv, $"xcos_http_requests_total{{route=\"{Escape(route)}\",status=\"{status}\"}} {n}\n");
        t.AppendLine("# HELP xcos_http_request_duration_seconds Time from the request's start to its response, by route.");
        t.AppendLine("# TYPE xcos_http_request_duration_seconds histogram");
        foreach (var (route, h) in _latency.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            lock (h)
            {
                var r = Escape(route);
                for (int i = 0; i < Buckets.Length; i++)
                    t.Append(inv, $"xcos_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{Buckets[i]}\"}} {h.Counts[i]}\n");
                t.Append(inv, $"xcos_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {h.Count}\n");
                t.Append(inv, $"xcos_http_request_duration_seconds_sum{{route=\"{r}\"}} {h.Sum:R}\n");
                t.Append(inv, $"xcos_http_request_duration_seconds_count{{route=\"{r}\"}} {h.Count}\n");
            }
        }
        t.AppendLine("# HELP xcos_faces_processed_total Faces the models processed, by face status.");
        t.AppendLine("# TYPE xcos_faces_processed_total counter");
        foreach (var (status, n) in _faces.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            t.Append(inv, $"xcos_faces_processed_total{{status=\"{Escape(status)}\"}} {n}\n");
        t.AppendLine("# HELP xcos_queue_length Requests waiting for a model worker.");
        t.AppendLine("# TYPE xcos_queue_length gauge");
        t.Append(inv, $"xcos_queue_length {queue.Waiting}\n");
        t.AppendLine("# HELP xcos_inflight_requests Requests running the models now.");
        t.AppendLine("# TYPE xcos_inflight_requests gauge");
        t.Append(inv, $"xcos_inflight_requests {queue.Running}\n");
        t.AppendLine("# HELP xcos_ready Whether the models are loaded (1) or not yet (0).");
        t.AppendLine("# TYPE xcos_ready gauge");
        t.Append(inv, $"xcos_ready {(ready ? 1 : 0)}\n");
        return t.ToString();
    }

    private static string Escape(string v) => v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
