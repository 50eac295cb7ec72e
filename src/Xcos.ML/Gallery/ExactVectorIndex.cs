using System.Numerics.Tensors;

namespace Xcos.ML.Gallery;

/// <summary>
/// Exhaustive cosine search: unit vectors in one contiguous array, one SIMD dot product per vector
/// (<see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>), a bounded heap for the top k.
/// Exact; the default for small galleries (see <see cref="GalleryIndexChoice"/>).
/// </summary>
/// <remarks>Not thread-safe for writes; concurrent searches are safe.</remarks>
internal sealed class ExactVectorIndex : IVectorIndex
{
    private float[] _data;
    private long[] _keys;
    private readonly Dictionary<long, int> _slot = [];

    /// <summary>An empty index of <paramref name="dimension"/>-d vectors.</summary>
    public ExactVectorIndex(int dimension, int capacity = 1024)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be positive");
        Dimension = dimension;
        capacity = Math.Max(16, capacity);
        _data = new float[(long)capacity * dimension];
        _keys = new long[capacity];
    }

    /// <summary>
    /// An index over the first <paramref name="count"/> rows of <paramref name="rows"/> (unit vectors, row i under key i),
    /// taking the array as its storage without a copy: for benchmarks whose data would not fit twice.
    /// </summary>
    internal static ExactVectorIndex Over(float[] rows, int count, int dimension)
    {
        if ((long)count * dimension > rows.LongLength) throw new ArgumentException($"{count} rows of {dimension} need {(long)count * dimension} values, got {rows.LongLength}");
        var index = new ExactVectorIndex(dimension, rows, count);
        return index;
    }

    private ExactVectorIndex(int dimension, float[] rows, int count)
    {
        Dimension = dimension;
        _data = rows;
        _keys = new long[count];
        for (int i = 0; i < count; i++) { _keys[i] = i; _slot[i] = i; }
        Count = count;
    }

    /// <inheritdoc/>
    public int Dimension { get; }
    /// <inheritdoc/>
    public int Count { get; private set; }

    /// <inheritdoc/>
    public void Add(long key, ReadOnlySpan<float> unit)
    {
        if (unit.Length != Dimension) throw new ArgumentException($"vector has {unit.Length} values, the index holds {Dimension}-d vectors", nameof(unit));
        if (_slot.ContainsKey(key)) throw new ArgumentException($"key {key} is already in the index", nameof(key));
        if (Count == _keys.Length)
        {
            Array.Resize(ref _keys, _keys.Length * 2);
            var grown = new float[(long)_keys.Length * Dimension];
            _data.AsSpan().CopyTo(grown);
            _data = grown;
        }
        unit.CopyTo(_data.AsSpan(Count * Dimension, Dimension));
        _keys[Count] = key;
        _slot[key] = Count++;
    }

    /// <inheritdoc/>
    public void Remove(long key)
    {
        if (!_slot.Remove(key, out int s)) return;
        int last = --Count;
        if (s != last)
        {
            // the last vector fills the hole, so the array stays dense for the scan
            _data.AsSpan(last * Dimension, Dimension).CopyTo(_data.AsSpan(s * Dimension, Dimension));
            _keys[s] = _keys[last];
            _slot[_keys[s]] = s;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<(long Key, float Cosine)> Search(ReadOnlySpan<float> unitQuery, int count)
    {
        if (unitQuery.Length != Dimension) throw new ArgumentException($"query has {unitQuery.Length} values, the index holds {Dimension}-d vectors", nameof(unitQuery));
        if (count <= 0 || Count == 0) return [];
        count = Math.Min(count, Count);
        var heap = new PriorityQueue<int, float>(count + 1);   // min-heap of the best so far
        var data = _data.AsSpan();
        for (int i = 0; i < Count; i++)
        {
            float s = TensorPrimitives.Dot(unitQuery, data.Slice(i * Dimension, Dimension));
            if (heap.Count < count) heap.Enqueue(i, s);
            else if (heap.TryPeek(out _, out float worst) && s > worst) heap.EnqueueDequeue(i, s);
        }
        var result = new (long, float)[heap.Count];
        for (int r = result.Length - 1; r >= 0; r--)
        {
            heap.TryDequeue(out int i, out float s);
            result[r] = (_keys[i], s);
        }
        return result;
    }

    /// <inheritdoc/>
    public void Dispose() { }
}
