namespace Xcos.ML.PgVector;

/// <summary>How <see cref="PgVectorFaceGallery"/> searches.</summary>
public sealed class PgVectorGalleryOptions
{
    /// <summary>
    /// Recall the HNSW search aims for (default 0.99): <c>hnsw.ef_search</c> is set per search from it and the number of
    /// faces asked for (<see cref="PgVectorFaceGallery.EfSearchFor"/>), never below that number.
    /// </summary>
    public double RecallTarget { get; set; } = 0.99;

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (!(RecallTarget > 0 && RecallTarget <= 1)) throw new ArgumentOutOfRangeException(nameof(RecallTarget), RecallTarget, "the recall target is a fraction in (0, 1]");
    }
}
