namespace Xcos.ML.Torch.Demo;

/// <summary>A progress report of a demo run.</summary>
/// <param name="Stage">The stage.</param>
/// <param name="Done">Items done in the stage (images, steps, pairs).</param>
/// <param name="Total">Items of the stage.</param>
/// <param name="Detail">A short line (e.g. loss and the estimated time left).</param>
public sealed record DemoProgress(DemoStage Stage, int Done, int Total, string Detail);
