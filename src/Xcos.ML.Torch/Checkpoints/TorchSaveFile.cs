using System.IO.Compression;
using Xcos.ML.Data;
using Xcos.ML.Data.Pickle;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>
/// Reads <c>torch.save</c> files of either format (the zip archive of PyTorch 1.6+, the legacy pickle stream before
/// it) without running any of their pickled code: the pickle goes through the restricted unpickler in checkpoint
/// mode, tensors are rebuilt from their descriptions, and only the state dict's storages are read.
/// Inside the state dict anything but tensors from a foreign class is refused; elsewhere foreign classes stay inert records.
/// </summary>
internal static class TorchSaveFile
{
    private const string DataParallelPrefix = "module.";

    /// <exception cref="CheckpointException">Not a torch.save file, malformed, or a state dict holding foreign objects.</exception>
    public static CheckpointContents Read(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException(path, "file not found.");
        try
        {
            using var stream = File.OpenRead(path);
            var magic = new byte[4];
            var n = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
            stream.Position = 0;
            var tree = new TorchPickleTree(path);
            object? root;
            if (n == 4 && magic[0] == 0x50 && magic[1] == 0x4b && magic[2] == 0x03 && magic[3] == 0x04)
                root = ReadZip(stream, path, tree);
            else if (n >= 2 && magic[0] == 0x80 && LegacyTorchFormat.HasMagic(stream))
                root = LegacyTorchFormat.Read(stream, path, tree, r => StorageKeys(Split(path, r).StateDict));
            else
                throw new CheckpointException(path, "not a PyTorch checkpoint (expected a torch.save zip archive or the legacy pickle format).");
            var (records, entries) = Split(path, root);
            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            try
            {
                foreach (var (key, record) in records)
                {
                    var name = key.StartsWith(DataParallelPrefix, StringComparison.Ordinal) ? key[DataParallelPrefix.Length..] : key;
                    if (tensors.ContainsKey(name))
                        throw new CheckpointException(path, $"key '{name}' appears both with and without the 'module.' prefix.");
                    tensors[name] = record.ToTensor();
                }
            }
            catch
            {
                foreach (var t in tensors.Values) t.Dispose();
                throw;
            }
            return new CheckpointContents(path, tensors, entries);
        }
        catch (CheckpointException) { throw; }
        catch (Exception e) when (e is InvalidDataException or IOException or EndOfStreamException or OverflowException or ArgumentException)
        {
            throw new CheckpointException(path, $"could not read the PyTorch checkpoint ({e.Message}).", e);
        }
    }

    private static object? ReadZip(Stream stream, string path, TorchPickleTree tree)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        var pkl = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToList();
        if (pkl.Count != 1) throw new CheckpointException(path, $"zip archive with {pkl.Count} '<name>/data.pkl' entries; a torch.save archive has exactly one.");
        string prefix = pkl[0].FullName[..^"data.pkl".Length];
        if (zip.GetEntry(prefix + "byteorder") is { } order)
        {
            using var r = new StreamReader(order.Open());
            if (r.ReadToEnd().Trim() is var o && o != "little") throw new CheckpointException(path, $"byte order '{o}' is not supported (little-endian only).");
        }
        object? root;
        using (var ms = new MemoryStream())
        {
            using (var s = pkl[0].Open()) s.CopyTo(ms);
            ms.Position = 0;
            root = tree.Convert(RestrictedUnpickler.LoadRecords(ms, $"{path}!{pkl[0].FullName}"));
        }
        foreach (var key in StorageKeys(Split(path, root).StateDict))
        {
            var storage = tree.Storages[key];
            var entry = zip.GetEntry($"{prefix}data/{key}") ?? throw new CheckpointException(path, $"storage '{key}' has no '{prefix}data/{key}' entry.");
            if (entry.Length < storage.ByteLength)
                throw new CheckpointException(path, $"storage '{key}' holds {entry.Length} bytes, {storage.ByteLength} expected ({storage.Count} x {storage.DType}).");
            var bytes = new byte[storage.ByteLength];
            using var s = entry.Open();
            s.ReadExactly(bytes);
            storage.Data = bytes;
        }
        return root;
    }

    private static IReadOnlySet<string> StorageKeys(IEnumerable<KeyValuePair<string, TorchTensorRecord>> records) =>
        records.Select(r => r.Value.Storage.Key).ToHashSet(StringComparer.Ordinal);

    // The state dict is root['state_dict'] when present (the xCos / pytorch-template container), else the root's tensors.
    private static (List<KeyValuePair<string, TorchTensorRecord>> StateDict, Dictionary<string, object?> Entries) Split(string path, object? root)
    {
        if (root is not OrderedDictionary<object, object?> dict)
            throw new CheckpointException(path, $"holds {Describe(root)}, not a dict (a whole pickled model is not read; save its state_dict()).");
        var records = new List<KeyValuePair<string, TorchTensorRecord>>();
        var entries = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (dict.TryGetValue("state_dict", out var inner))
        {
            if (inner is not OrderedDictionary<object, object?> sd) throw new CheckpointException(path, $"'state_dict' is {Describe(inner)}, not a dict.");
            foreach (var (k, v) in sd)
            {
                switch (v)
                {
                    case TorchTensorRecord t when k is string name: records.Add(new(name, t)); break;
                    case PickledObject or PickledGlobal or PickledPersistentId:
                        throw new CheckpointException(path, $"state_dict['{k}'] is {Describe(v)}: a state dict may hold only tensors, foreign objects are refused there.");
                }
            }
            foreach (var (k, v) in dict) if (!Equals(k, "state_dict")) entries[k.ToString() ?? ""] = v;
        }
        else
        {
            foreach (var (k, v) in dict)
            {
                if (v is TorchTensorRecord t && k is string name) records.Add(new(name, t));
                else entries[k.ToString() ?? ""] = v;
            }
        }
        if (records.Count == 0)
            throw new CheckpointException(path, "holds no state dict (no tensors at the top level or under 'state_dict'); top-level keys: " +
                string.Join(", ", dict.Select(kv => kv.Value is PickledObject or PickledGlobal or PickledPersistentId ? $"{kv.Key} ({Describe(kv.Value)})" : kv.Key.ToString())) + ".");
        return (records, entries);
    }

    private static string Describe(object? v) => v switch
    {
        null => "None",
        PickledObject o => $"an object of the foreign class '{o.Type.FullName}'",
        PickledGlobal g => $"the foreign global '{g.FullName}'",
        PickledPersistentId => "a bare persistent id",
        string => "a Python string",
        System.Collections.IDictionary => "a Python dict",
        System.Collections.IList => "a Python list",
        _ => $"a {v.GetType().Name}",
    };
}
