using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>
/// Rebuilds the scalar stage of a loaded pair scorer. Register with
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(XcosPairScorer).Assembly)</c> before <c>Model.Load</c>.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class XcosPairScalarsFactory : CustomMappingFactory<XcosPairVectors, XcosPairScalars>
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
