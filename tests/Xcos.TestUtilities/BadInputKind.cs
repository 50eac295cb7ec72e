namespace Xcos.TestUtilities;

/// <summary>How a bad input of <see cref="EstimatorConformance.BadInputs"/> differs from the valid one.</summary>
public enum BadInputKind
{
    /// <summary>The column is not there.</summary>
    Missing,

    /// <summary>The column has another type (text for a non-text column, a Single for a text one).</summary>
    WrongType,

    /// <summary>
    /// A Single vector of one value more: refused at Fit, not at GetOutputSchema, since a schema shape carries no vector sizes.
    /// </summary>
    WrongSize,
}
