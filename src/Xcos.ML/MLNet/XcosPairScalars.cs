using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Row written by the scalar mapping.</summary>
internal sealed class XcosPairScalars
{
    /// <summary>xCos of the pair: attention-weighted sum of the patch cosines.</summary>
    [ColumnName(XcosPairScoringColumns.Score)]
    public float Score { get; set; }

    /// <summary>Cosine of the two embeddings, for comparison.</summary>
    [ColumnName(XcosPairScoringColumns.Cosine)]
    public float Cosine { get; set; }
}
