using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Row written by the one-value mapping.</summary>
internal sealed class SingleValueScalar
{
    /// <summary>The scalar taken from the vector.</summary>
    [ColumnName(SingleValueColumns.Output)]
    public float Value { get; set; }
}
