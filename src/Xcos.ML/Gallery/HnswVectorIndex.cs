using Cloud.Unum.USearch;

namespace Xcos.ML.Gallery;

/// <summary>Settings of <see cref="HnswVectorIndex"/> (USearch's HNSW parameters).</summary>
/// <param name="Connectivity">Links per node (M); 16 is USearch's default.</param>
/// <param name="ExpansionAdd">Candidate list while building (efConstruction).</param>
/// <param name="ExpansionSearch">Candidate list while searching (ef); raised to the requested count when smaller.</param>
public sealed record HnswSettings(int Connectivity = 16, int ExpansionAdd = 128, int ExpansionSearch = 128);

/// <summary>
/// Approximate cosine search with an HNSW graph (NuGet Cloud.Unum.USearch, native code, Cos metric, float32).
/// For large galleries, where an exhaustive scan costs more than the graph's walk (<see cref="GalleryIndexChoice"/>).
/// </summary>
/// <remarks>USearch's C# wrapper adds one vector at a time; adds are not thread-safe here.</remarks>
public sealed class HnswVectorIndex : IVectorIndex
{
    private readonly USearchIndex _index;
    private readonly float[] _buffer;

    /// <summary>An empty graph of <paramref name="dimension"/>-d vectors.</summary>
    public HnswVectorIndex(int dimension, HnswSettings? settings = null)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be positive");
        Settings = settings ?? new HnswSettings();
        Dimension = dimension;
        _index = new USearchIndex(MetricKind.Cos, ScalarKind.Float32, (ulong)dimension,
            (ulong)Settings.Connectivity, (ulong)Settings.ExpansionAdd, (ulong)Settings.ExpansionSearch);
        _buffer = new float[dimension];
    }

    private HnswVectorIndex(string path, HnswSettings settings)
    {
        Settings = settings;
        _index = new USearchIndex(path);
        Dimension = (int)_index.Dimensions();
        Count = (int)_index.Size();
        _buffer = new float[Dimension];
    }

    /// <summary>Loads a graph written by <see cref="Save"/>.</summary>
    public static HnswVectorIndex Load(string path, HnswSettings? settings = null) => new(path, settings ?? new HnswSettings());

    /// <summary>Graph settings the index was built with.</summary>
    public HnswSettings Settings { get; }
    /// <inheritdoc/>
    public int Dimension { get; }
    /// <inheritdoc/>
    public int Count { get; private set; }

    /// <inheritdoc/>
    public void Add(long key, ReadOnlySpan<float> unit)
    {
        if (unit.Length != Dimension) throw new ArgumentException($"vector has {unit.Length} values, the index holds {Dimension}-d vectors", nameof(unit));
        ArgumentOutOfRangeException.ThrowIfNegative(key);
        unit.CopyTo(_buffer);
        _index.Add((ulong)key, _buffer);
        Count++;
    }

    /// <summary>
    /// Adds many unit vectors at once. USearch's wrapper grows the graph's capacity by one on every single add; a batch
    /// reserves once, which is what makes building a large gallery affordable.
    /// </summary>
    public void AddRange(IReadOnlyList<long> keys, IReadOnlyList<float[]> units)
    {
        if (keys.Count != units.Count) throw new ArgumentException($"{keys.Count} keys for {units.Count} vectors");
        foreach (var u in units)
            if (u.Length != Dimension) throw new ArgumentException($"vector has {u.Length} values, the index holds {Dimension}-d vectors", nameof(units));
        if (keys.Any(k => k < 0)) throw new ArgumentOutOfRangeException(nameof(keys), "keys must be non-negative");
        _index.Add(keys.Select(k => (ulong)k).ToArray(), units as float[][] ?? units.ToArray());
        Count += keys.Count;
    }

    /// <inheritdoc/>
    public void Remove(long key)
    {
        if (key < 0) return;
        Count -= _index.Remove((ulong)key);
    }

    /// <inheritdoc/>
    public IReadOnlyList<(long Key, float Cosine)> Search(ReadOnlySpan<float> unitQuery, int count)
    {
        if (unitQuery.Length != Dimension) throw new ArgumentException($"query has {unitQuery.Length} values, the index holds {Dimension}-d vectors", nameof(unitQuery));
        if (count <= 0 || Count == 0) return [];
        var q = unitQuery.ToArray();
        int n = _index.Search(q, Math.Min(count, Count), out var keys, out var distances);
        var result = new (long, float)[n];
        // USearch's Cos metric reports the distance 1 - cosine
        for (int i = 0; i < n; i++) result[i] = ((long)keys[i], 1f - distances[i]);
        return result;
    }

    /// <summary>Writes the graph to <paramref name="path"/>.</summary>
    public void Save(string path) => _index.Save(path);

    /// <inheritdoc/>
    public void Dispose() => _index.Dispose();
}
