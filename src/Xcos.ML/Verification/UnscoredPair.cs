namespace Xcos.ML.Verification;

/// <summary>A pair that could not be scored, with the row of the pair file it came from.</summary>
/// <param name="Row">Row of the pair file (line for text files, 1-based pair for .bin).</param>
/// <param name="Id1">First image id.</param>
/// <param name="Id2">Second image id.</param>
/// <param name="Reason">The failing faces with their status.</param>
internal sealed record UnscoredPair(int Row, string Id1, string Id2, string Reason);
