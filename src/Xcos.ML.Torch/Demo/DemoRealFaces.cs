namespace Xcos.ML.Torch.Demo;

/// <summary>What the real-face part of the demo did.</summary>
/// <param name="ModelsDirectory">Where the models were looked for.</param>
/// <param name="PhotosDirectory">The labelled photo set used (a folder with <c>pairs.tsv</c>), or null when none was found.</param>
/// <param name="Ran">False when the models or labelled photos are not there (then <paramref name="Note"/> says why and what to do).</param>
/// <param name="Note">A sentence for the user.</param>
/// <param name="Pairs">The pairs explained.</param>
public sealed record DemoRealFaces(string ModelsDirectory, string? PhotosDirectory, bool Ran, string Note, IReadOnlyList<DemoRealPair> Pairs);
