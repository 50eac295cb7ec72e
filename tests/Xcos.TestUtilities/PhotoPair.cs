namespace Xcos.TestUtilities;

/// <summary>Rows of a raw-photo pipeline: two photo paths and, for Fit, the label.</summary>
public sealed record PhotoPair
{
    public string ImagePath1 { get; set; } = "";
    public string ImagePath2 { get; set; } = "";
    public bool Label { get; set; }
}
