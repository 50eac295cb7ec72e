using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Onnx;

/// <summary>
/// Range of every named float value of a model over a calibration set: the values are added as graph outputs
/// and the model runs in ONNX Runtime over each calibration feed. Min/max takes one pass; percentiles take a
/// second pass that fills a histogram over the min/max range of each value.
/// </summary>
internal static class ActivationCalibrator
{
    /// <summary>The (low, high) range of each value in <paramref name="valueNames"/>.</summary>
    /// <param name="model">The float model (not changed).</param>
    /// <param name="valueNames">Float values to measure (inputs or node outputs).</param>
    /// <param name="feeds">Calibration batches: input name to data and shape.</param>
    /// <param name="options">Method, percentile, bins and threads.</param>
    /// <exception cref="ArgumentException">No feeds.</exception>
    /// <exception cref="InvalidOperationException">ONNX Runtime could not run the model on a feed (the message names the batch).</exception>
    public static IReadOnlyDictionary<string, (float Low, float High)> Ranges(ModelProto model, IReadOnlyCollection<string> valueNames,
        IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> feeds, OnnxQuantizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (feeds.Count == 0) throw new ArgumentException("the calibration set is empty", nameof(feeds));
        var probe = model.Clone();
        var outputs = probe.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = probe.Graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        // A graph input cannot be fetched as an output by ONNX Runtime; its range comes straight from the feeds.
        var fromFeeds = valueNames.Where(inputs.Contains).ToList();
        var fetched = valueNames.Where(n => !inputs.Contains(n)).ToList();
        foreach (var n in fetched.Where(outputs.Add)) probe.Graph.Output.Add(new ValueInfoProto { Name = n });

        var min = valueNames.ToDictionary(n => n, _ => float.PositiveInfinity, StringComparer.Ordinal);
        var max = valueNames.ToDictionary(n => n, _ => float.NegativeInfinity, StringComparer.Ordinal);
        using var opts = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC };
        if (options.IntraOpThreads > 0) { opts.IntraOpNumThreads = options.IntraOpThreads; opts.InterOpNumThreads = 1; }
        using var session = new InferenceSession(probe.ToByteArray(), opts);

        ForEachValue(session, feeds, fetched, fromFeeds, (name, span) =>
        {
            float lo = min[name], hi = max[name];
            foreach (float v in span)
            {
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
            min[name] = lo;
            max[name] = hi;
        });
        if (options.Method == CalibrationMethod.MinMax || options.Percentile >= 100)
            return valueNames.ToDictionary(n => n, n => (min[n], max[n]), StringComparer.Ordinal);

        int bins = options.HistogramBins;
        var hist = valueNames.ToDictionary(n => n, _ => new long[bins], StringComparer.Ordinal);
        ForEachValue(session, feeds, fetched, fromFeeds, (name, span) =>
        {
            var h = hist[name];
            float lo = min[name], width = (max[name] - lo) / bins;
            if (!(width > 0)) { h[0] += span.Length; return; }
            foreach (float v in span) h[Math.Clamp((int)((v - lo) / width), 0, bins - 1)]++;
        });
        var result = new Dictionary<string, (float, float)>(StringComparer.Ordinal);
        foreach (var n in valueNames)
        {
            var h = hist[n];
            long total = h.Sum();
            float lo = min[n], width = (max[n] - lo) / bins;
            double tail = (100 - options.Percentile) / 100 * total;
            int first = 0, last = bins - 1;
            for (long seen = 0; first < bins - 1 && seen + h[first] <= tail; first++) seen += h[first];
            for (long seen = 0; last > 0 && seen + h[last] <= tail; last--) seen += h[last];
            result[n] = width > 0 ? (lo + first * width, lo + (last + 1) * width) : (min[n], max[n]);
        }
        return result;
    }

    private static void ForEachValue(InferenceSession session, IReadOnlyList<IReadOnlyDictionary<string, (float[] Data, long[] Shape)>> feeds,
        List<string> fetched, List<string> fromFeeds, Action<string, ReadOnlySpan<float>> visit)
    {
        for (int b = 0; b < feeds.Count; b++)
        {
            var feed = feeds[b];
            foreach (var n in fromFeeds)
            {
                if (!feed.TryGetValue(n, out var x)) throw new ArgumentException($"calibration batch {b} has no input '{n}'", nameof(feeds));
                visit(n, x.Data);
            }
            if (fetched.Count == 0) continue;
            var names = feed.Keys.ToList();
            var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(feed[n].Data, feed[n].Shape)).ToList();
            try
            {
                using var ro = new RunOptions();
                using var outs = session.Run(ro, names, values, fetched);
                for (int i = 0; i < fetched.Count; i++) visit(fetched[i], outs[i].GetTensorDataAsSpan<float>());
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidOperationException($"calibration batch {b}: ONNX Runtime could not run the model: {e.Message}", e);
            }
            finally { values.ForEach(v => v.Dispose()); }
        }
    }
}
