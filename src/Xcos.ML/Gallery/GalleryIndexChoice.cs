namespace Xcos.ML.Gallery;

/// <summary>Which vector index a gallery searches with.</summary>
public enum GalleryIndexKind
{
    /// <summary>Exact below <see cref="GalleryIndexChoice.HnswFromFaces"/> faces, HNSW from there on.</summary>
    Auto,
    /// <summary>Always the exhaustive SIMD scan (<see cref="ExactVectorIndex"/>).</summary>
    Exact,
    /// <summary>Always HNSW (<see cref="HnswVectorIndex"/>).</summary>
    Hnsw,
}

/// <summary>The size rule of <see cref="GalleryIndexKind.Auto"/>.</summary>
public static class GalleryIndexChoice
{
    /// <summary>
    /// Gallery size (faces) from which HNSW answers faster than the exact scan. Measured with `xcos gallery-bench`
    /// on clustered 512-d embeddings, top-100, 2 cores (see the README's 1:N section): below it the exact scan is
    /// both faster and exact, and needs no graph build.
    /// </summary>
    public const int HnswFromFaces = 20_000;

    /// <summary>The index kind to use for <paramref name="faces"/> faces.</summary>
    public static GalleryIndexKind Resolve(GalleryIndexKind requested, int faces) =>
        requested != GalleryIndexKind.Auto ? requested : faces >= HnswFromFaces ? GalleryIndexKind.Hnsw : GalleryIndexKind.Exact;
}
