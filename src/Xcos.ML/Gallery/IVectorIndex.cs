namespace Xcos.ML.Gallery;

/// <summary>Nearest neighbours by cosine over unit vectors, keyed by face id.</summary>
internal interface IVectorIndex : IDisposable
{
    /// <summary>Length of every vector in the index.</summary>
    int Dimension { get; }
    /// <summary>Vectors added so far.</summary>
    int Count { get; }
    /// <summary>Adds a unit vector under a new key.</summary>
    void Add(long key, ReadOnlySpan<float> unit);
    /// <summary>Removes a key (no-op when absent).</summary>
    void Remove(long key);
    /// <summary>Up to <paramref name="count"/> keys with the highest cosine to a unit query, best first.</summary>
    IReadOnlyList<(long Key, float Cosine)> Search(ReadOnlySpan<float> unitQuery, int count);
}
