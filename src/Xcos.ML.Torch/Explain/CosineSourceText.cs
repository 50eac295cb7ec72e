using Xcos.ML.Text;

namespace Xcos.ML.Torch.Explain;

/// <summary>Text forms of <see cref="CosineSource"/> ("grid", "target"), as the CLI and its JSON write them.</summary>
public static class CosineSourceText
{
    /// <summary>The mapping.</summary>
    public static readonly EnumText<CosineSource> Map = new("cosine source", ("grid", CosineSource.Grid), ("target", CosineSource.Target));

    /// <summary>The text written for <paramref name="source"/>.</summary>
    public static string ToText(this CosineSource source) => Map.ToText(source);
}
