using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Row read by the one-value mapping.</summary>
internal sealed class SingleValueVector
{
    /// <summary>A vector of one value.</summary>
    [ColumnName(SingleValueColumns.Input), VectorType(1)]
    public float[] Value { get; set; } = [];
}
