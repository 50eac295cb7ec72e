namespace Xcos.ML.Data.Pickle;

/// <summary>A persistent reference (PERSID / BINPERSID) left for the caller to resolve: torch.save marks its
/// storages this way.</summary>
internal sealed record PickledPersistentId(object? Id);
