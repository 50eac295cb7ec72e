using System.Security.Cryptography;

namespace Xcos.ML.FaceModels;

/// <summary>
/// Per-run memo of work done on each distinct image (decode, detect, align, embed), so a pair list that reuses
/// images pays for each image once. Keyed by image id (path) and by SHA-256 of the bytes: a second id with the same
/// content reuses the first one's result. Holds at most <see cref="Capacity"/> results, dropping the least recently
/// used, so memory stays bounded however long the streamed pair list is.
/// </summary>
/// <typeparam name="T">The per-image result (failures may be cached too, e.g. as a result with a status).</typeparam>
/// <remarks>Thread-safe; two threads asking for the same new image may both compute it, and the first result is kept.</remarks>
public sealed class EmbeddingCache<T>
{
    private readonly Dictionary<string, string> _idToHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinkedListNode<(string Hash, T Value)>> _byHash = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Hash, T Value)> _recent = new();
    private readonly object _gate = new();

    /// <summary>A cache holding at most <paramref name="capacity"/> results.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Capacity below 1.</exception>
    public EmbeddingCache(int capacity = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>Most results held; past it the least recently used is dropped.</summary>
    public int Capacity { get; }

    /// <summary>Requests answered from the cache.</summary>
    public int Hits { get; private set; }

    /// <summary>Requests that computed a result.</summary>
    public int Misses { get; private set; }

    /// <summary>Results held now (distinct image contents, at most Capacity).</summary>
    public int Count { get { lock (_gate) return _byHash.Count; } }

    /// <summary>
    /// The result for image <paramref name="id"/>: cached by id, else its bytes are read and hashed and a cached
    /// result for the same content is reused, else <paramref name="compute"/> runs on the bytes.
    /// </summary>
    /// <param name="id">The image's id within the run (e.g. its path).</param>
    /// <param name="read">Reads the image's bytes; called at most once per id while the id's result is held.</param>
    /// <param name="compute">The work to memoise.</param>
    public T GetOrAdd(string id, Func<byte[]> read, Func<byte[], T> compute)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(compute);
        lock (_gate)
            if (_idToHash.TryGetValue(id, out var known) && TryTake(known, out var hit)) return hit;
        var bytes = read();
        string hash = Convert.ToHexString(SHA256.HashData(bytes));
        lock (_gate)
        {
            _idToHash[id] = hash;
            if (TryTake(hash, out var same)) return same;
        }
        var value = compute(bytes);
        lock (_gate)
        {
            Misses++;
            if (_byHash.TryGetValue(hash, out var raced)) return raced.Value.Value;
            _byHash[hash] = _recent.AddFirst((hash, value));
            while (_byHash.Count > Capacity)
            {
                var old = _recent.Last!;
                _recent.RemoveLast();
                _byHash.Remove(old.Value.Hash);
            }
            // Ids whose result was dropped are forgotten lazily: TryTake misses and the bytes are read again.
            if (_idToHash.Count > 4 * Capacity)
                foreach (var k in _idToHash.Where(kv => !_byHash.ContainsKey(kv.Value)).Select(kv => kv.Key).ToList()) _idToHash.Remove(k);
        }
        return value;
    }

    private bool TryTake(string hash, out T value)
    {
        if (_byHash.TryGetValue(hash, out var node))
        {
            _recent.Remove(node);
            _recent.AddFirst(node);
            Hits++;
            value = node.Value.Value;
            return true;
        }
        value = default!;
        return false;
    }
}
