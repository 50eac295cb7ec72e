using System.Collections;
using System.Collections.Specialized;
using System.IO.Compression;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using Xcos.ML.Torch.Checkpoints;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>Position and bookkeeping of a training run, stored in every training checkpoint.</summary>
public sealed record TrainingState
{
    /// <summary>Layout version of the checkpoint file.</summary>
    public int FormatVersion { get; init; } = 1;
    /// <summary>Full or head training.</summary>
    public TrainingMode Mode { get; init; }
    /// <summary>Epochs finished; training resumes in the next one.</summary>
    public int CompletedEpochs { get; init; }
    /// <summary>Steps already done in epoch <c>CompletedEpochs + 1</c> (non-zero after a cancelled epoch).</summary>
    public int StepInEpoch { get; init; }
    /// <summary>Training steps done in total.</summary>
    public long GlobalStep { get; init; }
    /// <summary>Best selection metric so far (higher is better); -infinity before the first epoch.</summary>
    public double BestMetric { get; init; } = double.NegativeInfinity;
    /// <summary>Epoch of <see cref="BestMetric"/>, 0 if none.</summary>
    public int BestEpoch { get; init; }
    /// <summary>Identity names of the margin head's classes, in class order (full mode).</summary>
    public string[] Identities { get; init; } = [];
    /// <summary>Loss sums of the interrupted epoch (total, CE, MSE, steps, pairs), so its mean is exact after resuming.</summary>
    public double[] EpochSums { get; init; } = [];
}

/// <summary>
/// A resumable training checkpoint: one zip file holding <c>state.json</c> (<see cref="TrainingState"/>),
/// <c>options.json</c>, each module's weights as a PyTorch <c>torch.save</c> file (<c>modules/NAME.pth</c>),
/// each optimiser's state (<c>optim/NAME.bin</c>, TorchSharp's format) and libtorch's CPU generator state
/// (<c>rng.bin</c>). Written to a temporary file and renamed, so the previous checkpoint stays valid until the new
/// one is complete.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>Writes a checkpoint atomically.</summary>
    public static void Write(string path, TrainingState state, XcosTrainerOptions options,
        IReadOnlyDictionary<string, nn.Module> modules, IReadOnlyDictionary<string, OptimizerHelper> optimizers) =>
        Write(path, state, options, modules, optimizers, temp => new FileStream(temp, FileMode.CreateNew, FileAccess.Write));

    /// <summary>As <see cref="Write(string, TrainingState, XcosTrainerOptions, IReadOnlyDictionary{string, nn.Module}, IReadOnlyDictionary{string, OptimizerHelper})"/>, with the temporary file opened by <paramref name="create"/> (tests fail it as a full disk would).</summary>
    internal static void Write(string path, TrainingState state, XcosTrainerOptions options,
        IReadOnlyDictionary<string, nn.Module> modules, IReadOnlyDictionary<string, OptimizerHelper> optimizers, Func<string, Stream> create)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = create(temp))
            {
                using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
                {
                    WriteEntry(zip, "state.json", s => JsonSerializer.Serialize(s, state, XcosTrainerOptions.JsonOptions));
                    WriteEntry(zip, "options.json", s => JsonSerializer.Serialize(s, options, XcosTrainerOptions.JsonOptions));
                    foreach (var (name, module) in modules)
                        WriteEntry(zip, $"modules/{name}.pth", s => PickleModule(module, s));
                    foreach (var (name, opt) in optimizers)
                        WriteEntry(zip, $"optim/{name}.bin", s =>
                        {
                            using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                            opt.save_state_dict(w);
                        });
                    WriteEntry(zip, "rng.bin", s =>
                    {
                        using var rng = torch.get_rng_state();
                        var bytes = rng.data<byte>().ToArray();
                        s.Write(bytes);
                    });
                }
                if (file is FileStream fs) fs.Flush(flushToDisk: true); else file.Flush();
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { if (File.Exists(temp)) File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>True when <paramref name="path"/> is a zip holding <c>state.json</c> (this trainer's format), false for
    /// anything else (a <c>torch.save</c> file, for example).</summary>
    public static bool IsTrainingCheckpoint(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            return zip.GetEntry("state.json") is not null;
        }
        catch (InvalidDataException) { return false; }
    }

    /// <summary>Reads the state of a checkpoint without loading weights.</summary>
    public static TrainingState ReadState(string path) => WithZip(path, zip => ReadJson<TrainingState>(zip, path, "state.json"));

    /// <summary>Reads the options a checkpoint was trained with.</summary>
    public static XcosTrainerOptions ReadOptions(string path) => WithZip(path, zip => ReadJson<XcosTrainerOptions>(zip, path, "options.json"));

    /// <summary>
    /// Loads the weights, optimiser states and generator state of a checkpoint into <paramref name="modules"/> and
    /// <paramref name="optimizers"/> (same names as when written) and returns its state.
    /// </summary>
    /// <exception cref="CheckpointException">The file is not a training checkpoint, or a module/optimiser does not fit; the message names it.</exception>
    public static TrainingState Load(string path, IReadOnlyDictionary<string, nn.Module> modules, IReadOnlyDictionary<string, OptimizerHelper> optimizers)
    {
        return WithZip(path, zip =>
        {
            var state = ReadJson<TrainingState>(zip, path, "state.json");
            foreach (var (name, module) in modules)
            {
                using var ms = ReadEntry(zip, path, $"modules/{name}.pth");
                var root = PyTorchUnpickler.UnpickleStateDict(ms, true, false);
                IDictionary dict = root["state_dict"] as IDictionary ?? root;
                var sd = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                foreach (DictionaryEntry e in dict) if (e.Key is string k && e.Value is Tensor t) sd[k] = t;
                try { XcosCheckpoint.Load(module, sd, new CheckpointLoadOptions { Strict = true }, $"{path}!modules/{name}.pth"); }
                finally { foreach (var t in sd.Values) t.Dispose(); }
            }
            foreach (var (name, opt) in optimizers)
            {
                using var ms = ReadEntry(zip, path, $"optim/{name}.bin");
                using var r = new BinaryReader(ms);
                try { opt.load_state_dict(r); }
                catch (Exception e) when (e is ArgumentException or InvalidDataException or EndOfStreamException)
                {
                    throw new CheckpointException(path, $"optimiser '{name}' state does not fit ({e.Message}).", e);
                }
            }
            using (var ms = ReadEntry(zip, path, "rng.bin"))
            using (var rng = torch.tensor(ms.ToArray(), dtype: ScalarType.Byte))
                torch.set_rng_state(rng);
            return state;
        });
    }

    private static void PickleModule(nn.Module module, Stream s)
    {
        var sd = new OrderedDictionary(StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        foreach (var (k, t) in module.state_dict()) sd[k] = t.detach().cpu().contiguous();
        // the zip writer seeks, an archive entry stream cannot
        using var ms = new MemoryStream();
        PyTorchPickler.PickleStateDict(ms, new OrderedDictionary { ["state_dict"] = sd }, true);
        ms.Position = 0;
        ms.CopyTo(s);
    }

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write)
    {
        using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        write(s);
    }

    private static T WithZip<T>(string path, Func<ZipArchive, T> body)
    {
        if (!File.Exists(path)) throw new CheckpointException(path, "training checkpoint not found.");
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw new CheckpointException(path, "not a training checkpoint (expected the zip written by the trainer; a model-only .pth cannot be resumed).", e); }
        using (zip) return body(zip);
    }

    private static MemoryStream ReadEntry(ZipArchive zip, string path, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new CheckpointException(path, $"training checkpoint has no '{name}'.");
        var ms = new MemoryStream();
        using (var s = entry.Open()) s.CopyTo(ms);
        ms.Position = 0;
        return ms;
    }

    private static T ReadJson<T>(ZipArchive zip, string path, string name)
    {
        using var ms = ReadEntry(zip, path, name);
        try { return JsonSerializer.Deserialize<T>(ms, XcosTrainerOptions.JsonOptions) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new CheckpointException(path, $"'{name}' is not valid ({e.Message}).", e); }
    }
}
