using TorchSharp;
using Xcos.ML.Data;
using Xcos.ML.Metrics;
using Xcos.ML.Torch.Data;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// Per-image outputs of a network for every distinct image of a <see cref="PairSet"/>, on the CPU. Unreadable
/// images are skipped and counted (their pairs are left out of the metrics), not fatal.
/// </summary>
public sealed class EmbeddedPairSet : IDisposable
{
    private EmbeddedPairSet(PairSet set, Dictionary<string, int> rows, Tensor[] parts, List<string> errors, int unreadable)
    {
        Set = set; Rows = rows; Parts = parts; Errors = errors; UnreadableImages = unreadable;
    }

    /// <summary>The validation pairs, as read from their file.</summary>
    public PairSet Set { get; }
    /// <summary>Row of each readable image id in <see cref="Parts"/>.</summary>
    public IReadOnlyDictionary<string, int> Rows { get; }
    /// <summary>The outputs, each [readable images, ...].</summary>
    public Tensor[] Parts { get; }
    /// <summary>Read errors (each names the image).</summary>
    public IReadOnlyList<string> Errors { get; }
    /// <summary>Distinct images that could not be read.</summary>
    public int UnreadableImages { get; }
    /// <summary>Name used in logs: the pair-set file name without extension.</summary>
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Set.Source);

    /// <summary>
    /// Decodes every distinct image (prefetched on a worker thread) and runs <paramref name="embed"/> on batches of
    /// [B,3,112,112] tensors under no_grad; the returned tensors (one per output, first dim B) are kept on the CPU.
    /// </summary>
    public static EmbeddedPairSet Compute(PairSet set, FaceImageLoader loader, int batchSize, Device device,
        Func<Tensor, Tensor[]> embed, Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        var ids = set.Pairs.SelectMany(p => new[] { p.Id1, p.Id2 }).Distinct(StringComparer.Ordinal).ToArray();
        int f = loader.Options.ImageFloats, size = loader.Options.Size;
        int chunks = (ids.Length + batchSize - 1) / batchSize;
        var prefetch = new PrefetchLoader<(string[] Ids, float[] Data, string?[] Errors)>(chunks, (c, ct) =>
        {
            int start = c * batchSize, n = Math.Min(batchSize, ids.Length - start);
            var data = new float[n * f];
            var errors = new string?[n];
            for (int k = 0; k < n; k++)
            {
                var id = ids[start + k];
                try { loader.Load(set.ReadImage(id), set.ImagePath(id) ?? $"{set.Source}[{id}]", data.AsSpan(k * f, f)); }
                catch (Exception e) when (e is InvalidDataException or IOException or KeyNotFoundException or UnauthorizedAccessException)
                {
                    errors[k] = e.Message;
                }
            }
            return (ids[start..(start + n)], data, errors);
        });
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        var outputs = new List<Tensor[]>();
        var errorList = new List<string>();
        int unreadable = 0, done = 0;
        try
        {
            foreach (var (chunkIds, data, errors) in prefetch.Read(0, cancellationToken))
            {
                var keep = Enumerable.Range(0, chunkIds.Length).Where(k => errors[k] is null).ToArray();
                foreach (var k in Enumerable.Range(0, chunkIds.Length).Where(k => errors[k] is not null))
                {
                    unreadable++;
                    if (errorList.Count < 10) errorList.Add(errors[k]!);
                }
                if (keep.Length > 0)
                {
                    var packed = new float[keep.Length * f];
                    for (int j = 0; j < keep.Length; j++) data.AsSpan(keep[j] * f, f).CopyTo(packed.AsSpan(j * f, f));
                    using var scope = NewDisposeScope();
                    using var _ = no_grad();
                    var x = tensor(packed, [keep.Length, 3, size, size]).to(device);
                    var outs = embed(x).Select(t => t.detach().cpu().MoveToOuterDisposeScope()).ToArray();
                    outputs.Add(outs);
                    foreach (var k in keep) rows[chunkIds[k]] = rows.Count;
                }
                done += chunkIds.Length;
                progress?.Invoke(done, ids.Length);
            }
            Tensor[] parts;
            if (outputs.Count == 0) parts = [];
            else
            {
                parts = new Tensor[outputs[0].Length];
                for (int i = 0; i < parts.Length; i++) parts[i] = cat(outputs.Select(o => o[i]).ToArray(), 0);
            }
            return new EmbeddedPairSet(set, rows, parts, errorList, unreadable);
        }
        finally
        {
            foreach (var o in outputs) foreach (var t in o) t.Dispose();
        }
    }

    /// <summary>
    /// Scores every pair whose two images were readable with <paramref name="score"/> (given the gathered rows of
    /// both sides, on <paramref name="device"/>, returns [xCos, cosine] scores [P]) and evaluates both scores with the
    /// k-fold protocol.
    /// </summary>
    public ValidationResult Evaluate(Device device, Func<Tensor[], Tensor[], (Tensor Xcos, Tensor Cosine)> score, int folds = 10, int chunk = 256)
    {
        var usable = Set.Pairs.Where(p => Rows.ContainsKey(p.Id1) && Rows.ContainsKey(p.Id2)).ToArray();
        var xs = new float[usable.Length];
        var cs = new float[usable.Length];
        for (int start = 0; start < usable.Length; start += chunk)
        {
            int n = Math.Min(chunk, usable.Length - start);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var i1 = tensor(usable.Skip(start).Take(n).Select(p => (long)Rows[p.Id1]).ToArray());
            var i2 = tensor(usable.Skip(start).Take(n).Select(p => (long)Rows[p.Id2]).ToArray());
            var a = Parts.Select(t => t.index_select(0, i1).to(device)).ToArray();
            var b = Parts.Select(t => t.index_select(0, i2).to(device)).ToArray();
            var (x, c) = score(a, b);
            Array.Copy(x.to(ScalarType.Float32).cpu().data<float>().ToArray(), 0, xs, start, n);
            Array.Copy(c.to(ScalarType.Float32).cpu().data<float>().ToArray(), 0, cs, start, n);
        }
        var same = usable.Select(p => p.Same).ToArray();
        if (usable.Length < folds || !same.Any(s => s) || same.All(s => s))
            throw new InvalidDataException($"{Set.Source}: {usable.Length} scorable pairs ({Set.Count - usable.Length} skipped for unreadable images); " +
                $"the {folds}-fold protocol needs at least {folds} pairs with both same and different ones.");
        var opts = new VerificationOptions { Folds = folds };
        return new ValidationResult(Name, usable.Length, Set.Count - usable.Length, UnreadableImages,
            VerificationMetrics.Evaluate(xs, same, opts), VerificationMetrics.Evaluate(cs, same, opts), Errors);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in Parts) t.Dispose();
    }
}
