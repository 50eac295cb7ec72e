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

/// <summary>The size rules: which index (<see cref="GalleryIndexKind.Auto"/>) and which HNSW graph settings.</summary>
public static class GalleryIndexChoice
{
    /// <summary>
    /// Gallery size (faces) from which HNSW answers faster than the exact scan. Measured with `xcos gallery-bench`
    /// on clustered 512-d embeddings, top-100, 2 cores (see docs/identification.md): below it the exact scan is
    /// both faster and exact, and needs no graph build.
    /// </summary>
    public const int HnswFromFaces = 20_000;

    /// <summary>
    /// Gallery size (faces) from which the graph is built with <see cref="LargeConnectivity"/> links per node and
    /// bfloat16 storage. docs/gallery_bench.md: at 100,000 clustered faces M=16 reached recall@10 0.99 at ef 64; at
    /// 1,000,000 M=16 found only 0.20-0.45 of the exact top-10 (ef 64-256) while M=32, ef_add 128 reached 0.994 at
    /// ef 256. No size between was measured; the switch sits at twice the largest size where M=16 was seen to suffice.
    /// </summary>
    public const int LargeGraphFromFaces = 200_000;

    /// <summary>Links per node (M) from <see cref="LargeGraphFromFaces"/> on.</summary>
    public const int LargeConnectivity = 32;

    /// <summary>The recall@10 a gallery's search expansion is calibrated for when none is given (<see cref="FaceGalleryOptions.Recall"/>).</summary>
    public const double DefaultRecall = 0.99;

    /// <summary>The index kind to use for <paramref name="faces"/> faces.</summary>
    public static GalleryIndexKind Resolve(GalleryIndexKind requested, int faces) =>
        requested != GalleryIndexKind.Auto ? requested : faces >= HnswFromFaces ? GalleryIndexKind.Hnsw : GalleryIndexKind.Exact;

    /// <summary>
    /// HNSW graph settings for a graph of <paramref name="faces"/> faces: M=16, ef_add 128, float32 below
    /// <see cref="LargeGraphFromFaces"/>; M=32, ef_add 128, bfloat16 (half the memory; a gallery re-scores its hits with
    /// the exact cosine) from there on. The search expansion here is only a starting value: galleries and
    /// `gallery-bench` calibrate it for a recall target (<see cref="HnswRecallCalibration"/>).
    /// </summary>
    public static HnswSettings SettingsFor(long faces, int threads = 0) =>
        faces >= LargeGraphFromFaces
            ? new HnswSettings(LargeConnectivity, 128, 128, threads, HnswQuantization.BFloat16)
            : new HnswSettings(16, 128, 128, threads, HnswQuantization.Float32);
}
