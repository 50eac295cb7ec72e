using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Fixed internal column names of the <see cref="XcosPairScorer"/> stages.</summary>
internal static class XcosPairScoringColumns
{
    /// <summary>Pair-head score, a vector of one value.</summary>
    public const string ScoreVector = "Xcos.Pair.ScoreVector";
    /// <summary>Pair-head plain cosine, a vector of one value.</summary>
    public const string CosineVector = "Xcos.Pair.CosineVector";
    /// <summary>Column of the xCos score of each pair.</summary>
    public const string Score = "Xcos.Pair.Score";
    /// <summary>Column of the plain embedding cosine of each pair.</summary>
    public const string Cosine = "Xcos.Pair.Cosine";
}
