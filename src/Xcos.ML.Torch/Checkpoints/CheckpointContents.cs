using static TorchSharp.torch;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>
/// What a <c>torch.save</c> checkpoint holds: the state dict as CPU tensors (owned by this object), and everything
/// else in the file as inert data (the original xCos trainer's <c>epoch</c>, <c>optimizers</c>, <c>monitor_best</c>,
/// <c>config</c>...: numbers, text, lists, <see cref="OrderedDictionary{TKey, TValue}"/>s,
/// <see cref="TorchTensorRecord"/>s that were not loaded, and <see cref="Xcos.ML.Data.Pickle.PickledObject"/>s for
/// foreign classes such as <c>attrdict.AttrDict</c>, which are never constructed).
/// </summary>
public sealed class CheckpointContents : IDisposable
{
    internal CheckpointContents(string path, Dictionary<string, Tensor> stateDict, IReadOnlyDictionary<string, object?> entries)
    {
        Path = path;
        StateDict = stateDict;
        Entries = entries;
    }

    /// <summary>Path of the checkpoint that was read, as given.</summary>
    public string Path { get; }
    /// <summary>The state dict (container unwrapped, DataParallel <c>module.</c> prefix removed).</summary>
    public Dictionary<string, Tensor> StateDict { get; }
    /// <summary>The file's other top-level entries, by name.</summary>
    public IReadOnlyDictionary<string, object?> Entries { get; }

    /// <summary>The <c>epoch</c> entry of a training checkpoint, if any.</summary>
    public int? Epoch => Entries.TryGetValue("epoch", out var e) && e is long l ? (int)l : null;

    /// <summary>Hands the state dict's tensors to the caller: <see cref="Dispose"/> then leaves them alone.</summary>
    public Dictionary<string, Tensor> TakeStateDict()
    {
        var copy = new Dictionary<string, Tensor>(StateDict, StringComparer.Ordinal);
        StateDict.Clear();
        return copy;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in StateDict.Values) t.Dispose();
        StateDict.Clear();
    }
}
