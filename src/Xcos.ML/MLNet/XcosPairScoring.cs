using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

// ApplyOnnxModel gives every tensor output as a vector column (a rank-0 output fails in ML.NET 5.0.1), so the
// [1]-shaped score and cosine of the pair head become scalars through this CustomMapping, which saves as its
// contract name. Like every CustomMapping it uses fixed column names; XcosPairScorer renames with CopyColumns.

/// <summary>Fixed internal column names of the <see cref="XcosPairScorer"/> stages.</summary>
public static class XcosPairScoringColumns
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

/// <summary>Row read by the scalar mapping: the pair head's one-value outputs.</summary>
public sealed class XcosPairVectors
{
    /// <summary>xCos score as a one-value vector.</summary>
    [ColumnName(XcosPairScoringColumns.ScoreVector), VectorType(1)]
    public float[] Score { get; set; } = [];

    /// <summary>Plain cosine as a one-value vector.</summary>
    [ColumnName(XcosPairScoringColumns.CosineVector), VectorType(1)]
    public float[] Cosine { get; set; } = [];
}

/// <summary>Row written by the scalar mapping.</summary>
public sealed class XcosPairScalars
{
    /// <summary>xCos of the pair: attention-weighted sum of the patch cosines.</summary>
    [ColumnName(XcosPairScoringColumns.Score)]
    public float Score { get; set; }

    /// <summary>Cosine of the two embeddings, for comparison.</summary>
    [ColumnName(XcosPairScoringColumns.Cosine)]
    public float Cosine { get; set; }
}

/// <summary>
/// Rebuilds the scalar stage of a loaded pair scorer. Register with
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(XcosPairScorer).Assembly)</c> before <c>Model.Load</c>.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class XcosPairScalarsFactory : CustomMappingFactory<XcosPairVectors, XcosPairScalars>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.PairScalars.v1";

    /// <summary>Copies the single value of each vector.</summary>
    public static void Map(XcosPairVectors input, XcosPairScalars output)
    {
        output.Score = input.Score.Length == 1 ? input.Score[0] : float.NaN;
        output.Cosine = input.Cosine.Length == 1 ? input.Cosine[0] : float.NaN;
    }

    /// <inheritdoc/>
    public override Action<XcosPairVectors, XcosPairScalars> GetMapping() => Map;
}

/// <summary>Fixed internal column names of the one-value-vector-to-scalar stage.</summary>
public static class SingleValueColumns
{
    /// <summary>A vector of one value.</summary>
    public const string Input = "Xcos.Single.Vector";
    /// <summary>Name of the one output column.</summary>
    public const string Output = "Xcos.Single.Value";
}

/// <summary>Row read by the one-value mapping.</summary>
public sealed class SingleValueVector
{
    /// <summary>A vector of one value.</summary>
    [ColumnName(SingleValueColumns.Input), VectorType(1)]
    public float[] Value { get; set; } = [];
}

/// <summary>Row written by the one-value mapping.</summary>
public sealed class SingleValueScalar
{
    /// <summary>The scalar taken from the vector.</summary>
    [ColumnName(SingleValueColumns.Output)]
    public float Value { get; set; }
}

/// <summary>Rebuilds the one-value-to-scalar stage of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class SingleValueFactory : CustomMappingFactory<SingleValueVector, SingleValueScalar>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.SingleValue.v1";

    /// <summary>Copies the single value (NaN when the vector does not hold exactly one).</summary>
    public static void Map(SingleValueVector input, SingleValueScalar output) =>
        output.Value = input.Value.Length == 1 ? input.Value[0] : float.NaN;

    /// <inheritdoc/>
    public override Action<SingleValueVector, SingleValueScalar> GetMapping() => Map;
}
