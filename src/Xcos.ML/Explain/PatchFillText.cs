using Xcos.ML.Text;

namespace Xcos.ML.Explain;

/// <summary>Text forms of <see cref="PatchFill"/> ("mean", "blur"), as the CLI and its JSON write them.</summary>
public static class PatchFillText
{
    /// <summary>The mapping; "meancolor" and "mean-color" are accepted for the mean colour too.</summary>
    public static readonly EnumText<PatchFill> Map = new("patch fill",
        ("mean", PatchFill.MeanColor), ("blur", PatchFill.Blur), ("meancolor", PatchFill.MeanColor), ("mean-color", PatchFill.MeanColor));

    /// <summary>The text written for <paramref name="fill"/>.</summary>
    public static string ToText(this PatchFill fill) => Map.ToText(fill);
}
