using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Xcos.ML.MLNet;

/// <summary>Rebuilds the one-value-to-scalar stage of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SingleValueFactory : CustomMappingFactory<SingleValueVector, SingleValueScalar>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.SingleValue.v1";

    /// <summary>Copies the single value (NaN when the vector does not hold exactly one).</summary>
    public static void Map(SingleValueVector input, SingleValueScalar output) =>
        output.Value = input.Value.Length == 1 ? input.Value[0] : float.NaN;

    /// <inheritdoc/>
    public override Action<SingleValueVector, SingleValueScalar> GetMapping() => Map;
}
