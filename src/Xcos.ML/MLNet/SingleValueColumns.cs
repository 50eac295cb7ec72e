using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Fixed internal column names of the one-value-vector-to-scalar stage.</summary>
internal static class SingleValueColumns
{
    /// <summary>A vector of one value.</summary>
    public const string Input = "Xcos.Single.Vector";
    /// <summary>Name of the one output column.</summary>
    public const string Output = "Xcos.Single.Value";
}
