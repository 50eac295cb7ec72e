namespace Xcos.ML.Gallery;

/// <summary>How <see cref="FaceGallery"/> indexes (exact scan or HNSW) and keeps its file (read-only, compaction).</summary>
public sealed class FaceGalleryOptions
{
    /// <summary>Index kind (default Auto: exact scan for small galleries, HNSW for large ones).</summary>
    public GalleryIndexKind Index { get; set; } = GalleryIndexKind.Auto;

    /// <summary>
    /// HNSW settings when the HNSW index is used; null (the default) picks them by gallery size
    /// (<see cref="GalleryIndexChoice.SettingsFor"/>) and the search expansion by <see cref="Recall"/>.
    /// </summary>
    public HnswSettings? Hnsw { get; set; }

    /// <summary>
    /// recall@10 the HNSW search expansion is calibrated for (<see cref="HnswRecallCalibration"/>, stored next to the
    /// graph). Null (the default): <see cref="GalleryIndexChoice.DefaultRecall"/> when <see cref="Hnsw"/> is null, else
    /// the fixed <see cref="HnswSettings.ExpansionSearch"/> of the given settings.
    /// </summary>
    public double? Recall { get; set; }

    /// <summary>
    /// Keep the HNSW graph in "&lt;gallery&gt;.hnsw" (<see cref="HnswGraphFile"/>): loaded on open when it still matches
    /// the gallery, written when a writable gallery with a changed graph is closed (default true).
    /// </summary>
    public bool SaveIndex { get; set; } = true;

    /// <summary>Open without writing (searches only; a torn last record is ignored, not truncated).</summary>
    public bool ReadOnly { get; set; }

    /// <summary>Compact after a removal once the file holds more dead faces than this and than live ones (default 256).</summary>
    public int CompactAfterDeadFaces { get; set; } = 256;
}
