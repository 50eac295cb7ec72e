using System.Runtime.InteropServices;
using Cloud.Unum.USearch;

namespace Xcos.ML.Gallery;

/// <summary>Settings of <see cref="HnswVectorIndex"/> (USearch's HNSW parameters).</summary>
/// <param name="Connectivity">Links per node (M); 16 is USearch's default.</param>
/// <param name="ExpansionAdd">Candidate list while building (efConstruction).</param>
/// <param name="ExpansionSearch">Candidate list while searching (ef); USearch raises it to the requested count when smaller.</param>
/// <param name="Threads">Threads that add vectors in <see cref="HnswVectorIndex.AddRange(ReadOnlySpan{long}, float[], int)"/> (0: every processor visible).</param>
/// <param name="Quantization">How the graph stores vectors; queries and inputs stay float32.</param>
public sealed record HnswSettings(int Connectivity = 16, int ExpansionAdd = 128, int ExpansionSearch = 128, int Threads = 0,
    HnswQuantization Quantization = HnswQuantization.Float32);

/// <summary>
/// Approximate cosine search with an HNSW graph (USearch's native library from NuGet Cloud.Unum.USearch, Cos metric,
/// float32). For large galleries, where an exhaustive scan costs more than the graph's walk (<see cref="GalleryIndexChoice"/>).
/// </summary>
/// <remarks>
/// Calls the C library directly (<see cref="USearchNative"/>) rather than through the package's C# wrapper: the
/// wrapper reserves capacity for exactly one more vector on every single add, which reallocates the graph's
/// tables each time (quadratic: about 40 adds/s at 60,000 faces), and it cannot add from several threads, change the
/// search expansion, or save to memory. Here capacity grows geometrically and a batch is added by several threads.
/// Searches may run concurrently with each other; adds, removals and saves must not overlap anything else.
/// </remarks>
internal sealed class HnswVectorIndex : IVectorIndex
{
    private readonly USearchHandle _index;

    /// <summary>An empty graph of <paramref name="dimension"/>-d vectors.</summary>
    public HnswVectorIndex(int dimension, HnswSettings? settings = null)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be positive");
        Settings = settings ?? new HnswSettings();
        if (Settings.Connectivity < 2 || Settings.ExpansionAdd < 1 || Settings.ExpansionSearch < 1 || Settings.Threads < 0)
            throw new ArgumentException($"HNSW settings need connectivity >= 2, expansions >= 1 and threads >= 0, got {Settings}", nameof(settings));
        Dimension = dimension;
        _index = Init(dimension, Settings);
    }

    private HnswVectorIndex(USearchHandle index, int dimension, HnswSettings settings)
    {
        _index = index;
        Dimension = dimension;
        Settings = settings;
    }

    private static USearchHandle Init(int dimension, HnswSettings s)
    {
        var options = new IndexOptions
        {
            metric_kind = MetricKind.Cos, quantization = s.Quantization switch
            {
                HnswQuantization.BFloat16 => ScalarKind.BFloat16,
                HnswQuantization.Float16 => ScalarKind.Float16,
                _ => ScalarKind.Float32,
            }, dimensions = (ulong)dimension,
            connectivity = (ulong)s.Connectivity, expansion_add = (ulong)s.ExpansionAdd, expansion_search = (ulong)s.ExpansionSearch,
        };
        var ptr = USearchNative.usearch_init(ref options, out var error);
        if (error != IntPtr.Zero && ptr != IntPtr.Zero) USearchNative.usearch_free(ptr, out _);
        USearchNative.Check(error, "init");
        if (ptr == IntPtr.Zero) throw new USearchException("USearch init returned no index");
        return new USearchHandle(ptr);
    }

    /// <summary>The settings.</summary>
    public HnswSettings Settings { get; private set; }
    /// <inheritdoc/>
    public int Dimension { get; }
    /// <inheritdoc/>
    public int Count => (int)USearchNative.usearch_size(_index, out _);

    /// <summary>Search expansion (ef): higher finds more of the true neighbours, slower. Takes effect on the next search.</summary>
    public int ExpansionSearch
    {
        get => Settings.ExpansionSearch;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            USearchNative.usearch_change_expansion_search(_index, (UIntPtr)value, out var error);
            USearchNative.Check(error, "change of the search expansion");
            Settings = Settings with { ExpansionSearch = value };
        }
    }

    /// <summary>Vector slots allocated.</summary>
    public long Capacity => (long)USearchNative.usearch_capacity(_index, out _);

    /// <inheritdoc/>
    public void Add(long key, ReadOnlySpan<float> unit)
    {
        if (unit.Length != Dimension) throw new ArgumentException($"vector has {unit.Length} values, the index holds {Dimension}-d vectors", nameof(unit));
        ArgumentOutOfRangeException.ThrowIfNegative(key);
        Reserve(Count + 1L);
        USearchNative.usearch_add(_index, (ulong)key, ref MemoryMarshal.GetReference(unit), ScalarKind.Float32, out var error);
        USearchNative.Check(error, $"add of key {key}");
    }

    /// <summary>
    /// Adds <paramref name="keys"/>.Length unit vectors stored row after row in <paramref name="rows"/> (row i under
    /// keys[i]), from <paramref name="threads"/> threads (0: <see cref="HnswSettings.Threads"/>). Capacity is
    /// reserved once for the whole batch.
    /// </summary>
    public void AddRange(ReadOnlySpan<long> keys, float[] rows, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.LongLength != (long)keys.Length * Dimension)
            throw new ArgumentException($"{keys.Length} keys need {(long)keys.Length * Dimension} values ({Dimension}-d rows), got {rows.LongLength}", nameof(rows));
        AddRange(keys, rows, 0, threads);
    }

    /// <summary>As <see cref="AddRange(ReadOnlySpan{long}, float[], int)"/>, with keys[i]'s row starting at row <paramref name="firstRow"/> + i of <paramref name="rows"/>.</summary>
    public void AddRange(ReadOnlySpan<long> keys, float[] rows, int firstRow, int threads)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        if (((long)firstRow + keys.Length) * Dimension > rows.LongLength)
            throw new ArgumentException($"rows {firstRow} to {firstRow + keys.Length - 1} of {Dimension} values do not fit {rows.LongLength} values", nameof(rows));
        foreach (var k in keys) ArgumentOutOfRangeException.ThrowIfNegative(k, nameof(keys));
        if (keys.Length == 0) return;
        int workers = Math.Clamp(threads > 0 ? threads : Settings.Threads > 0 ? Settings.Threads : Environment.ProcessorCount, 1, keys.Length);
        Reserve(Count + (long)keys.Length, workers);
        var keyArray = keys.ToArray();
        int dim = Dimension;
        Exception? failure = null;
        // rows are handed out in blocks, so each thread walks its own stretch of memory
        int next = 0;
        const int block = 64;
        var pool = new Thread[workers];
        for (int w = 0; w < workers; w++)
        {
            pool[w] = new Thread(() =>
            {
                try
                {
                    int start;
                    while (Volatile.Read(ref failure) is null && (start = Interlocked.Add(ref next, block) - block) < keyArray.Length)
                    {
                        int end = Math.Min(keyArray.Length, start + block);
                        for (int i = start; i < end; i++)
                        {
                            USearchNative.usearch_add(_index, (ulong)keyArray[i], ref rows[((long)firstRow + i) * dim], ScalarKind.Float32, out var error);
                            USearchNative.Check(error, $"add of key {keyArray[i]}");
                        }
                    }
                }
                catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            })
            { IsBackground = true, Name = "hnsw-add" };
            pool[w].Start();
        }
        foreach (var t in pool) t.Join();
        if (failure is not null) throw failure;
    }

    /// <summary>Allocates room for <paramref name="vectors"/> vectors in all, ahead of adding them.</summary>
    public void Reserve(int vectors)
    {
        if (vectors <= Capacity) return;
        USearchNative.usearch_reserve(_index, checked((UIntPtr)(ulong)vectors), out var error);
        USearchNative.Check(error, $"reserve of {vectors} vectors");
    }

    // Geometric growth: reserving one more slot per add rebuilds the tables every time.
    private void Reserve(long needed, int threads = 1)
    {
        long capacity = Capacity;
        if (needed > capacity)
        {
            long target = Math.Max(needed, capacity + capacity / 2 + 64);
            USearchNative.usearch_reserve(_index, checked((UIntPtr)(ulong)target), out var error);
            USearchNative.Check(error, $"reserve of {target} vectors");
        }
        if (threads > 1)
        {
            // usearch_reserve sizes its thread contexts by the hardware's thread count; make sure there are enough for the workers
            USearchNative.usearch_change_threads_add(_index, (UIntPtr)Math.Max(threads, Environment.ProcessorCount), out var error);
            USearchNative.Check(error, $"setting {threads} add threads");
        }
    }

    /// <inheritdoc/>
    public void Remove(long key)
    {
        if (key < 0) return;
        USearchNative.usearch_remove(_index, (ulong)key, out var error);
        USearchNative.Check(error, $"removal of key {key}");
    }

    /// <summary>The stored vector of <paramref name="key"/>, or null when absent.</summary>
    public float[]? Get(long key)
    {
        if (key < 0) return null;
        var v = new float[Dimension];
        var n = USearchNative.usearch_get(_index, (ulong)key, 1, v, ScalarKind.Float32, out var error);
        USearchNative.Check(error, $"get of key {key}");
        return n == 0 ? null : v;
    }

    /// <inheritdoc/>
    public IReadOnlyList<(long Key, float Cosine)> Search(ReadOnlySpan<float> unitQuery, int count)
    {
        if (unitQuery.Length != Dimension) throw new ArgumentException($"query has {unitQuery.Length} values, the index holds {Dimension}-d vectors", nameof(unitQuery));
        int size = Count;
        if (count <= 0 || size == 0) return [];
        count = Math.Min(count, size);
        var keys = new ulong[count];
        var distances = new float[count];
        int n = (int)USearchNative.usearch_search(_index, ref MemoryMarshal.GetReference(unitQuery), ScalarKind.Float32, (UIntPtr)count, keys, distances, out var error);
        USearchNative.Check(error, "search");
        var result = new (long, float)[n];
        // USearch's Cos metric reports the distance 1 - cosine
        for (int i = 0; i < n; i++) result[i] = ((long)keys[i], 1f - distances[i]);
        return result;
    }

    /// <summary>Bytes <see cref="SaveTo"/> writes.</summary>
    public long SerializedLength
    {
        get
        {
            var n = USearchNative.usearch_serialized_length(_index, out var error);
            USearchNative.Check(error, "serialized length");
            return (long)n;
        }
    }

    /// <summary>Writes the graph (USearch's own format) into <paramref name="length"/> bytes of native memory at <paramref name="buffer"/>.</summary>
    internal void SaveTo(IntPtr buffer, long length)
    {
        if (length != SerializedLength) throw new ArgumentException($"the graph needs {SerializedLength} bytes, the buffer has {length}", nameof(length));
        USearchNative.usearch_save_buffer(_index, buffer, checked((UIntPtr)(ulong)length), out var error);
        USearchNative.Check(error, "save");
    }

    /// <summary>
    /// A graph read (copied) from <paramref name="length"/> bytes written by <see cref="SaveTo"/>. The bytes must be
    /// verified first (a checksum): USearch trusts them.
    /// </summary>
    internal static HnswVectorIndex LoadFrom(IntPtr buffer, long length, int dimension, HnswSettings settings)
    {
        var index = Init(dimension, settings);
        try
        {
            USearchNative.usearch_load_buffer(index, buffer, checked((UIntPtr)(ulong)length), out var error);
            USearchNative.Check(error, "load");
            long dims = (long)USearchNative.usearch_dimensions(index, out _);
            if (dims != dimension) throw new InvalidDataException($"the saved graph holds {dims}-d vectors, expected {dimension}");
            // loading restores the saved search expansion; the caller's settings win
            USearchNative.usearch_change_expansion_search(index, (UIntPtr)settings.ExpansionSearch, out error);
            USearchNative.Check(error, "change of the search expansion");
            return new HnswVectorIndex(index, dimension, settings);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _index.Dispose();
}
