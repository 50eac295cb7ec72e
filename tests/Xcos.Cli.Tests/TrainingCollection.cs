namespace Xcos.Cli.Tests;

/// <summary>Commands that train run one at a time: each sets libtorch's thread count for its process, and two at once would halve each other's speed.</summary>
[CollectionDefinition("Training", DisableParallelization = true)]
public sealed class TrainingCollection;
