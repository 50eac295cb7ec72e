using Xcos.ML.Text;

namespace Xcos.ML.Explain;

/// <summary>Text forms of <see cref="WeightDerivedAttention"/> ("kernel", "pair", "contribution"), as face-model descriptors hold them.</summary>
public static class WeightDerivedAttentionText
{
    /// <summary>The mapping.</summary>
    public static readonly EnumText<WeightDerivedAttention> Map = new("attention",
        ("kernel", WeightDerivedAttention.Kernel), ("pair", WeightDerivedAttention.Pair), ("contribution", WeightDerivedAttention.Contribution));

    /// <summary>The text written for <paramref name="attention"/>.</summary>
    public static string ToText(this WeightDerivedAttention attention) => Map.ToText(attention);
}
