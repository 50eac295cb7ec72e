using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Row read by the scalar mapping: the pair head's one-value outputs.</summary>
internal sealed class XcosPairVectors
{
    /// <summary>xCos score as a one-value vector.</summary>
    [ColumnName(XcosPairScoringColumns.ScoreVector), VectorType(1)]
    public float[] Score { get; set; } = [];

    /// <summary>Plain cosine as a one-value vector.</summary>
    [ColumnName(XcosPairScoringColumns.CosineVector), VectorType(1)]
    public float[] Cosine { get; set; } = [];
}
