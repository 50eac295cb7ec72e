namespace Xcos.ML.Data.Pickle;

/// <summary>A persistent reference (PERSID / BINPERSID) left for the caller to resolve: torch.save marks its
/// storages this way.</summary>
public sealed record PickledPersistentId(object? Id);
