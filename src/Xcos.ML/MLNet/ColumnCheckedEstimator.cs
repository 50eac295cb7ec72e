using Microsoft.ML;

namespace Xcos.ML.MLNet;

/// <summary>
/// Checks input columns before the estimator it wraps sees them, so a missing or mistyped input is refused naming the
/// user's column, not a column inside the wrapped chain. Fit returns the wrapped estimator's transformer unchanged.
/// </summary>
internal sealed class ColumnCheckedEstimator(IEstimator<ITransformer> inner, Action<SchemaShape> checkShape, Action<DataViewSchema> checkSchema)
    : IEstimator<ITransformer>
{
    /// <inheritdoc/>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        checkSchema(input.Schema);
        return inner.Fit(input);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        checkShape(inputSchema);
        return inner.GetOutputSchema(inputSchema);
    }
}
