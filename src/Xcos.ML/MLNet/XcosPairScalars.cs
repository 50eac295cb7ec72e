using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Row written by the scalar mapping.</summary>
public sealed class XcosPairScalars
{
    /// <summary>xCos score.</summary>
    [ColumnName(XcosPairScoringColumns.Score)]
    public float Score { get; set; }

    /// <summary>Plain cosine.</summary>
    [ColumnName(XcosPairScoringColumns.Cosine)]
    public float Cosine { get; set; }
}
