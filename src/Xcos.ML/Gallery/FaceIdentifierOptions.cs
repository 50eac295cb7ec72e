namespace Xcos.ML.Gallery;

/// <summary>Settings of one identification.</summary>
public sealed class FaceIdentifierOptions
{
    /// <summary>Identities returned (default 5).</summary>
    public int Top { get; set; } = 5;

    /// <summary>Identities taken from the cosine search for the pair head to score (default 20; at least <see cref="Top"/>).</summary>
    public int Shortlist { get; set; } = 20;

    /// <summary>Order the shortlist by the pair head's xCos instead of the cosine (default false: cosine).</summary>
    public bool Rerank { get; set; }

    /// <summary>Run the pair head on the shortlist (default true; needed by <see cref="Rerank"/> and for explanations).</summary>
    public bool Explain { get; set; } = true;

    /// <summary>Open-set cosine threshold; null takes the model's (<see cref="IFaceEncoder.Threshold"/>).</summary>
    public double? Threshold { get; set; }

    /// <summary>Probes are aligned faces (no detection).</summary>
    public bool Aligned { get; set; }

    /// <summary>Checks the values; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (Top < 1) throw new ArgumentOutOfRangeException(nameof(Top), Top, "top must be at least 1");
        if (Shortlist < 1) throw new ArgumentOutOfRangeException(nameof(Shortlist), Shortlist, "shortlist must be at least 1");
        if (Rerank && !Explain) throw new ArgumentException("re-ranking needs the pair head (Explain = true)");
        if (Threshold is { } t && (!double.IsFinite(t) || t < -1 || t > 1)) throw new ArgumentOutOfRangeException(nameof(Threshold), t, "threshold must be a cosine in -1..1");
    }
}
