using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// Writes a checkpoint the way the original xCos trainer's <c>_save_checkpoint</c> does with <c>torch.save</c>:
/// <c>{'arch', 'epoch', 'state_dict', 'optimizers': {name: optimizer.state_dict()}, 'monitor_best' (a numpy float64),
/// 'config' (an attrdict.AttrDict), 'train_iteration_count', 'valid_iteration_counts'}</c>, in the zip format of
/// PyTorch 1.6+ or the legacy format of the PyTorch 1.x the original ran on.
/// </summary>
internal sealed class OriginalCheckpointWriter
{
    private readonly List<(string Key, Tensor Tensor)> _storages = new();

    /// <summary>Extra state-dict entries written verbatim (a test puts foreign objects there).</summary>
    public List<KeyValuePair<object, object?>> ExtraStateDictItems { get; } = new();

    public void Write(string path, IReadOnlyDictionary<string, Tensor> stateDict, int epoch, bool legacy)
    {
        _legacy = legacy;
        _storages.Clear();
        var sd = stateDict.Select(kv => new KeyValuePair<object, object?>(kv.Key, TensorNode(kv.Value))).Concat(ExtraStateDictItems).ToList();
        var first = stateDict.Values.First();
        var root = new PyDict
        {
            { "arch", "xCosModel" },
            { "epoch", epoch },
            // an OrderedDict with the _metadata attribute PyTorch attaches to every state dict
            { "state_dict", new PyReduce(new PyGlobal("collections", "OrderedDict"), [], sd,
                new PyDict { { "_metadata", new PyReduce(new PyGlobal("collections", "OrderedDict"), [], [new("", new PyDict { { "version", 1 } })]) } }) },
            { "optimizers", new PyDict
            {
                { "backbone", new PyDict
                {
                    { "state", new PyDict { { 0L, new PyDict { { "momentum_buffer", TensorNode(zeros_like(first)) } } } } },
                    { "param_groups", new List<object?> { new PyDict { { "lr", 0.1 }, { "momentum", 0.9 }, { "dampening", 0 }, { "weight_decay", 5e-4 }, { "nesterov", false }, { "params", new List<object?> { 0L } } } } },
                } },
                { "attention", new PyDict
                {
                    { "state", new PyDict { { 1L, new PyDict { { "step", 12 }, { "exp_avg", TensorNode(ones(3)) }, { "exp_avg_sq", TensorNode(ones(3)) }, { "max_exp_avg_sq", TensorNode(ones(3)) } } } } },
                    { "param_groups", new List<object?> { new PyDict { { "lr", 1e-4 }, { "betas", new object?[] { 0.9, 0.999 } }, { "eps", 1e-8 }, { "weight_decay", 0 }, { "amsgrad", true }, { "params", new List<object?> { 1L } } } } },
                } },
            } },
            { "monitor_best", NumpyFloat64(0.9725) },
            { "config", AttrDict(new PyDict
            {
                { "n_gpu", 1 },
                { "arch", new PyDict { { "type", "xCosModel" }, { "args", new PyDict { { "class_num", 10572 } } } } },
                { "trainer", new PyDict { { "epochs", 100 }, { "save_dir", "saved/" }, { "monitor", "valid_seen_loss" } } },
                { "name", "xcos_train_config" },
            }) },
            { "train_iteration_count", 42 },
            { "valid_iteration_counts", new List<object?> { 7 } },
        };
        if (legacy) WriteLegacy(path, root);
        else WriteZip(path, root);
    }

    // attrdict.AttrDict is a dict subclass whose __getstate__ is (dict copy, sequence type, allow invalid attributes)
    private static PyNewObj AttrDict(PyDict items) =>
        new(new PyGlobal("attrdict.dictionary", "AttrDict"), [], items, new object?[] { items, new PyGlobal("__builtin__", "tuple"), false });

    // numpy.float64: numpy.core.multiarray.scalar(dtype('float64'), 8 raw bytes)
    private static PyReduce NumpyFloat64(double v)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, v);
        var dtype = new PyReduce(new PyGlobal("numpy", "dtype"), ["f8", false, true], State: new object?[] { 3, "<", null, null, null, -1, -1, 0 });
        return new PyReduce(new PyGlobal("numpy.core.multiarray", "scalar"), [dtype, bytes]);
    }

    private object TensorNode(Tensor t)
    {
        var key = _storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var c = t.detach().cpu().contiguous();
        _storages.Add((key, c));
        string storageClass = c.dtype switch
        {
            ScalarType.Float32 => "FloatStorage",
            ScalarType.Int64 => "LongStorage",
            _ => throw new ArgumentException($"dtype {c.dtype}"),
        };
        var stride = new long[c.shape.Length];
        for (int i = c.shape.Length - 1, s = 1; i >= 0; s *= (int)c.shape[i], i--) stride[i] = s;
        object?[] pid = _legacy
            ? ["storage", new PyGlobal("torch", storageClass), key, "cpu", c.numel(), null]
            : ["storage", new PyGlobal("torch", storageClass), key, "cpu", c.numel()];
        return new PyReduce(new PyGlobal("torch._utils", "_rebuild_tensor_v2"),
            [new PyPersistentId(pid), 0, c.shape.Select(x => (object?)x).ToArray(), stride.Select(x => (object?)x).ToArray(), false,
             new PyReduce(new PyGlobal("collections", "OrderedDict"), [])]);
    }

    // legacy files add a sixth persistent-id field (view metadata)
    private bool _legacy;

    private void WriteZip(string path, PyDict root)
    {
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        Entry(zip, "archive/data.pkl", PickleWriter.Dumps(root));
        foreach (var (key, t) in _storages) Entry(zip, $"archive/data/{key}", t.bytes.ToArray());
        Entry(zip, "archive/version", Encoding.ASCII.GetBytes("3\n"));
    }

    private static void Entry(ZipArchive zip, string name, byte[] bytes)
    {
        using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(bytes);
    }

    private void WriteLegacy(string path, PyDict root)
    {
        using var file = File.Create(path);
        file.Write([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.']);
        file.Write(PickleWriter.Dumps(1001));
        file.Write(PickleWriter.Dumps(new PyDict { { "protocol_version", 1001 }, { "little_endian", true }, { "type_sizes", new PyDict { { "short", 2 }, { "int", 4 }, { "long", 4 } } } }));
        file.Write(PickleWriter.Dumps(root));
        file.Write(PickleWriter.Dumps(_storages.Select(s => (object?)s.Key).ToList()));
        Span<byte> count = stackalloc byte[8];
        foreach (var (_, t) in _storages)
        {
            BinaryPrimitives.WriteInt64LittleEndian(count, t.numel());
            file.Write(count);
            file.Write(t.bytes);
        }
    }
}
