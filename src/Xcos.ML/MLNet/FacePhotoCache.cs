namespace Xcos.ML.MLNet;

/// <summary>
/// A photo's identity for <see cref="FacePhotoCache"/>: its full path with the file's size and last-write time, so a
/// file rewritten at the same path (a new size or a new time) is a new key and is never served stale. A missing file
/// has size -1; once it appears, its key changes.
/// </summary>
internal readonly record struct FacePhotoKey(string FullPath, long Length, long LastWriteTicks)
{
    /// <summary>The key of <paramref name="path"/> as the file is now (empty and unreadable paths get size -1).</summary>
    public static FacePhotoKey Of(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) return new(path, -1, 0);
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { return new(path, -1, 0); }
        var info = new FileInfo(full);
        return info.Exists ? new(full, info.Length, info.LastWriteTimeUtc.Ticks) : new(full, -1, 0);
    }
}

/// <summary>What the photo pipeline computed for one photo: its face status, detection and the face model's outputs.</summary>
internal sealed record FacePhotoEntry(string Status, int FaceCount, float[] FaceBox, float[] Map, float[] Embedding);

/// <summary>
/// Bounded memo of per-photo work (read, detect, align, embed) shared by a fitted photo pipeline's passes: Fit's threshold
/// pass, every later Transform and every pass over a lazy result. Holds at most <see cref="Capacity"/> photos, dropping
/// the least recently used. Thread-safe.
/// </summary>
internal sealed class FacePhotoCache
{
    private readonly Dictionary<FacePhotoKey, LinkedListNode<(FacePhotoKey Key, FacePhotoEntry Value)>> _map = [];
    private readonly LinkedList<(FacePhotoKey Key, FacePhotoEntry Value)> _recent = new();
    private readonly object _gate = new();

    public FacePhotoCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>Most photos held.</summary>
    public int Capacity { get; }

    /// <summary>Photos held now.</summary>
    public int Count { get { lock (_gate) return _map.Count; } }

    /// <summary>Photos computed so far (cache misses).</summary>
    public int Computed { get; private set; }

    public bool TryGet(FacePhotoKey key, out FacePhotoEntry value)
    {
        lock (_gate)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                value = node.Value.Value;
                return true;
            }
        }
        value = null!;
        return false;
    }

    public void Add(FacePhotoKey key, FacePhotoEntry value)
    {
        lock (_gate)
        {
            Computed++;
            if (_map.TryGetValue(key, out var old)) _recent.Remove(old);
            _map[key] = _recent.AddFirst((key, value));
            while (_map.Count > Capacity)
            {
                var last = _recent.Last!;
                _recent.RemoveLast();
                _map.Remove(last.Value.Key);
            }
        }
    }
}
