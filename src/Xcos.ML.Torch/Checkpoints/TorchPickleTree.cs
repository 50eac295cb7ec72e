using Xcos.ML.Data.Pickle;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>
/// Turns the inert records of a <c>torch.save</c> pickle into data: calls of <c>torch._utils._rebuild_tensor_v2</c>
/// (and <c>_rebuild_tensor</c>, <c>_rebuild_parameter</c>) on a persistent storage id become
/// <see cref="TorchTensorRecord"/>s; every other record stays as it is. Nothing is called.
/// </summary>
internal sealed class TorchPickleTree(string source)
{
    private readonly Dictionary<object, object?> _done = new(ReferenceEqualityComparer.Instance);

    /// <summary>The storages referenced so far, by key.</summary>
    public Dictionary<string, TorchStorage> Storages { get; } = new(StringComparer.Ordinal);

    /// <summary>Converts a value and everything under it (shared and cyclic references stay shared).</summary>
    public object? Convert(object? value, int depth = 0)
    {
        if (depth > 200) throw new InvalidDataException($"{source}: pickle nested deeper than 200 levels.");
        switch (value)
        {
            case null or string or long or double or bool or byte[] or PickledGlobal or TorchTensorRecord: return value;
        }
        if (_done.TryGetValue(value, out var seen)) return seen;
        switch (value)
        {
            case PickledObject o when AsTensor(o) is { } t:
                _done[value] = t;
                return t;
            case OrderedDictionary<object, object?> dict:
            {
                var copy = new OrderedDictionary<object, object?>();
                _done[value] = copy;
                foreach (var (k, v) in dict) copy[Convert(k, depth + 1)!] = Convert(v, depth + 1);
                return copy;
            }
            case List<object?> list:
            {
                var copy = new List<object?>(list.Count);
                _done[value] = copy;
                foreach (var v in list) copy.Add(Convert(v, depth + 1));
                return copy;
            }
            case object?[] tuple:
            {
                var copy = new object?[tuple.Length];
                _done[value] = copy;
                for (int i = 0; i < tuple.Length; i++) copy[i] = Convert(tuple[i], depth + 1);
                return copy;
            }
            default:
                // foreign objects (attrdict.AttrDict, numpy scalars, ...) and persistent ids outside tensors stay records
                _done[value] = value;
                return value;
        }
    }

    private TorchTensorRecord? AsTensor(PickledObject o)
    {
        if (o.Type.Module != "torch._utils") return null;
        switch (o.Type.Name)
        {
            case "_rebuild_tensor_v2" or "_rebuild_tensor":
                // (storage, storage_offset, size, stride, ...)
                if (o.Args.Count < 4 || o.Args[0] is not PickledPersistentId pid)
                    throw new InvalidDataException($"{source}: {o.Type.FullName} without a storage reference.");
                return new TorchTensorRecord(Storage(pid), Long(o.Args[1]), Longs(o.Args[2]), Longs(o.Args[3]));
            case "_rebuild_parameter" or "_rebuild_parameter_with_state":
                if (o.Args.Count < 1 || o.Args[0] is not PickledObject inner || AsTensor(inner) is not { } t)
                    throw new InvalidDataException($"{source}: {o.Type.FullName} of something that is not a tensor.");
                return t;
            default:
                return null;
        }
    }

    private TorchStorage Storage(PickledPersistentId pid)
    {
        // ('storage', storage class, key, location, element count[, view metadata])
        if (pid.Id is not object?[] t || t.Length < 5 || t[0] as string != "storage" || t[1] is not PickledGlobal type)
            throw new InvalidDataException($"{source}: unexpected persistent id (expected a ('storage', class, key, location, size) tuple).");
        if (t.Length > 5 && t[5] is not null) throw new InvalidDataException($"{source}: storage views (legacy shared storages) are not supported.");
        string key = t[2] switch { string s => s, long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture), var k => throw new InvalidDataException($"{source}: storage key {k} is not text.") };
        var kind = TorchStorage.TypeOf(type.Name) ?? throw new InvalidDataException($"{source}: storage type '{type.FullName}' is not supported.");
        long count = Long(t[4]);
        if (Storages.TryGetValue(key, out var known))
        {
            if (known.DType != kind.DType || known.Count != count) throw new InvalidDataException($"{source}: storage '{key}' is declared twice with different types or sizes.");
            return known;
        }
        if (count < 0) throw new InvalidDataException($"{source}: storage '{key}' has a negative size.");
        var storage = new TorchStorage(key, kind.DType, kind.Size, count);
        Storages[key] = storage;
        return storage;
    }

    private long Long(object? v) => v is long l ? l : throw new InvalidDataException($"{source}: expected an integer in a tensor description, found {v ?? "None"}.");

    private long[] Longs(object? v) => v is object?[] t ? t.Select(Long).ToArray()
        : throw new InvalidDataException($"{source}: expected a tuple of integers in a tensor description.");
}
