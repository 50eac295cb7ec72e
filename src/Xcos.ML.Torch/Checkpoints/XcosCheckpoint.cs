using System.Collections;
using System.Collections.Specialized;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>How a state dict is wrapped in a saved file.</summary>
public enum CheckpointContainer
{
    /// <summary><c>{'state_dict': state_dict}</c>, the layout of the published xCos checkpoints (default).</summary>
    StateDictEntry,
    /// <summary>The bare state dict (<c>torch.save(model.state_dict())</c>).</summary>
    Bare,
}

/// <summary>How strictly <see cref="XcosCheckpoint.Load(nn.Module, string, CheckpointLoadOptions?)"/> matches file keys to module keys.</summary>
public sealed record CheckpointLoadOptions
{
    /// <summary>Fail on missing or unexpected keys (default true). Mis-shaped keys always fail.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>
    /// Use only the file's keys under this prefix, with the prefix removed: "backbone_target." loads the
    /// target backbone of an xCos checkpoint into a standalone backbone. Null (default): all keys.
    /// </summary>
    public string? SourcePrefix { get; init; }
}

/// <summary>Result of loading a checkpoint into a module.</summary>
/// <param name="Path">The file (or a description of the source).</param>
/// <param name="Matched">Module keys that were loaded.</param>
/// <param name="Missing">Module keys the file does not have (left unchanged).</param>
/// <param name="Unexpected">File keys the module does not have (ignored).</param>
public sealed record CheckpointLoadReport(string Path, IReadOnlyList<string> Matched, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

/// <summary>A checkpoint could not be read or does not fit the module; the message names the file and the keys.</summary>
public sealed class CheckpointException : Exception
{
    /// <summary>A file that could not be read; the message becomes "<paramref name="path"/>: <paramref name="message"/>".</summary>
    public CheckpointException(string path, string message, Exception? inner = null) : base($"{path}: {message}", inner) => Path = path;

    /// <summary>A file whose keys do not fit the module; the three lists name the keys (see <see cref="CheckpointLoadReport"/>).</summary>
    public CheckpointException(string path, string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
        : base($"{path}: {message}") { Path = path; Missing = missing; Unexpected = unexpected; Mismatched = mismatched; }

    /// <summary>The checkpoint file (or source description) the message is about.</summary>
    public string Path { get; }
    /// <summary>Module keys missing from the file.</summary>
    public IReadOnlyList<string> Missing { get; } = [];
    /// <summary>File keys the module does not have.</summary>
    public IReadOnlyList<string> Unexpected { get; } = [];
    /// <summary>Keys whose shapes differ, with both shapes.</summary>
    public IReadOnlyList<string> Mismatched { get; } = [];
}

/// <summary>
/// Reads and writes PyTorch <c>torch.save</c> checkpoints (zip format via TorchSharp.PyBridge, and the
/// pre-1.6 legacy format): bare state dicts or <c>{'state_dict': ...}</c> containers, with or without the
/// DataParallel <c>module.</c> prefix. Key names are the PyTorch ones, so the xCos layout
/// (<c>backbone.*</c>, <c>attention.*</c>, <c>backbone_target.*</c>) loads into <see cref="Networks.XcosModel"/>
/// and an InsightFace_Pytorch IR-SE-50 file loads into any <see cref="Networks.IResNet"/> (e.g. the target backbone).
/// </summary>
public static class XcosCheckpoint
{
    /// <summary>
    /// Reads the state dict of a checkpoint file: the container is unwrapped and <c>module.</c> prefixes
    /// are removed. The caller owns (and should dispose) the returned CPU tensors.
    /// </summary>
    /// <exception cref="CheckpointException">The file is not a PyTorch checkpoint or holds no state dict.</exception>
    /// <exception cref="TorchSharpLoadException">TorchSharp's native libraries failed to load (the file was never read).</exception>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var contents = TorchSaveFile.Read(path);
            return contents.TakeStateDict();
        }
        catch (Exception e) when (TorchSharpLoadException.IsNativeLoadFailure(e)) { throw TorchSharpLoadException.From(e); }
    }

    /// <summary>
    /// Reads a whole checkpoint: the state dict, and the file's other entries as inert data. Files written by the
    /// original xCos trainer (<c>arch</c>, <c>epoch</c>, <c>state_dict</c>, <c>optimizers</c>, <c>monitor_best</c>,
    /// <c>config</c> as an <c>attrdict.AttrDict</c>, ...) are read without constructing any of their classes.
    /// </summary>
    /// <exception cref="CheckpointException">Unreadable file, or a state dict that holds anything but tensors of foreign classes.</exception>
    public static CheckpointContents Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return TorchSaveFile.Read(path);
    }

    /// <summary>Loads a checkpoint file into <paramref name="module"/> (see <see cref="CheckpointLoadOptions"/>).</summary>
    /// <exception cref="CheckpointException">Unreadable file, or missing/unexpected (strict) or mis-shaped keys, named in the message.</exception>
    public static CheckpointLoadReport Load(nn.Module module, string path, CheckpointLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var sd = ReadStateDict(path);
        try { return Load(module, sd, options, path); }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    /// <summary>Copies a state dict (PyTorch key names) into <paramref name="module"/>'s parameters and buffers.</summary>
    /// <param name="module">Target module.</param>
    /// <param name="stateDict">Source tensors (any device; converted to each target's dtype and device).</param>
    /// <param name="options">Strictness and source prefix.</param>
    /// <param name="source">Name used in messages (the file path).</param>
    public static CheckpointLoadReport Load(nn.Module module, IReadOnlyDictionary<string, Tensor> stateDict,
        CheckpointLoadOptions? options = null, string source = "<state dict>")
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(stateDict);
        options ??= new CheckpointLoadOptions();
        var src = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, v) in stateDict)
        {
            if (options.SourcePrefix is null) src[k] = v;
            else if (k.StartsWith(options.SourcePrefix, StringComparison.Ordinal)) src[k[options.SourcePrefix.Length..]] = v;
        }
        var target = module.state_dict();
        var missing = target.Keys.Where(k => !src.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var unexpected = src.Keys.Where(k => !target.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var mismatched = new List<string>();
        foreach (var (k, t) in target)
            if (src.TryGetValue(k, out var s) && !s.shape.SequenceEqual(t.shape))
                mismatched.Add($"{k} (file [{string.Join(",", s.shape)}], module [{string.Join(",", t.shape)}])");
        if (mismatched.Count > 0 || (options.Strict && (missing.Count > 0 || unexpected.Count > 0)))
        {
            var parts = new List<string>();
            if (mismatched.Count > 0) parts.Add($"{mismatched.Count} mis-shaped: {Join(mismatched)}");
            if (options.Strict && missing.Count > 0) parts.Add($"{missing.Count} missing: {Join(missing)}");
            if (options.Strict && unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected: {Join(unexpected)}");
            throw new CheckpointException(source, "checkpoint does not fit the module; " + string.Join("; ", parts) + ".",
                missing, unexpected, mismatched);
        }
        // a NaN or Inf weight makes every score NaN downstream; refuse it here, naming the tensor
        var nonFinite = new List<string>();
        foreach (var (k, t) in target)
        {
            if (!src.TryGetValue(k, out var s) || !s.is_floating_point()) continue;
            using var bad = s.isfinite().logical_not().sum();
            long n = bad.item<long>();
            if (n > 0) nonFinite.Add($"{k} ({n} of {s.numel()} values)");
        }
        if (nonFinite.Count > 0)
            throw new CheckpointException(source, $"non-finite weights (NaN or Inf) in {nonFinite.Count} tensor(s): {Join(nonFinite)}; the file is damaged or its training diverged.");
        var matched = new List<string>();
        using (no_grad())
        {
            foreach (var (k, t) in target)
            {
                if (!src.TryGetValue(k, out var s)) continue;
                t.copy_(s);
                matched.Add(k);
            }
        }
        return new CheckpointLoadReport(source, matched, missing, unexpected);
    }

    private static string Join(IReadOnlyList<string> keys) =>
        keys.Count <= 20 ? string.Join(", ", keys) : string.Join(", ", keys.Take(20)) + $", ... ({keys.Count - 20} more)";

    /// <summary>Saves <paramref name="module"/>'s state dict so that PyTorch's <c>torch.load</c> reads it; written atomically.</summary>
    public static void Save(nn.Module module, string path, CheckpointContainer container = CheckpointContainer.StateDictEntry)
    {
        ArgumentNullException.ThrowIfNull(module);
        SaveStateDict(module.state_dict(), path, container);
    }

    /// <summary>
    /// Writes a state dict in the torch.save zip format (readable by <c>torch.load</c> and by <see cref="ReadStateDict"/>).
    /// The file is written to a temporary name next to <paramref name="path"/> and renamed over it, so a
    /// reader never sees a half-written checkpoint.
    /// </summary>
    public static void SaveStateDict(IReadOnlyDictionary<string, Tensor> stateDict, string path, CheckpointContainer container = CheckpointContainer.StateDictEntry)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var scope = NewDisposeScope())
            {
                // insertion-ordered, so the file lists keys in module order as PyTorch's OrderedDict does
                var sd = new OrderedDictionary(StringComparer.Ordinal);
                foreach (var (k, t) in stateDict) sd[k] = t.detach().cpu().contiguous();
                IDictionary root = container == CheckpointContainer.StateDictEntry
                    ? new OrderedDictionary { ["state_dict"] = sd }
                    : sd;
                using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
                PyTorchPickler.PickleStateDict(stream, root, true);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { if (File.Exists(temp)) File.Delete(temp); } catch (IOException) { }
            throw new CheckpointException(full, $"could not write the checkpoint ({e.GetType().Name}: {e.Message}).", e);
        }
    }
}
