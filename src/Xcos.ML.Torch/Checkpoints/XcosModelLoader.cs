using TorchSharp;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Checkpoints;

/// <summary>
/// Builds an <see cref="XcosModel"/> that fits a checkpoint and loads it. The architecture is read from the
/// key names and shapes (SE blocks, stage table, grid channels, whether a target backbone is present);
/// anything set in <c>overrides</c> wins over what was inferred, and a checkpoint that does not fit the
/// requested architecture fails with the missing/unexpected keys named.
/// </summary>
public static class XcosModelLoader
{
    /// <summary>Architecture choices a user can force; null means "as the checkpoint says".</summary>
    public sealed record Overrides
    {
        /// <summary>"ir", "ir_se" or "mobilefacenet" for the xCos backbone.</summary>
        public string? Arch { get; init; }
        /// <summary>Stage table, e.g. [1,1,1,1].</summary>
        public IReadOnlyList<int>? Stages { get; init; }
        /// <summary>Depth preset (18, 34, 50, 100, 152); ignored when <see cref="Stages"/> is set.</summary>
        public int? Depth { get; init; }
        /// <summary>"ir" or "ir_se" for the frozen target backbone; "none" drops it.</summary>
        public string? TargetArch { get; init; }
    }

    /// <summary>Key prefix of the margin head (<c>head.kernel</c>, embedding x classes) in checkpoints written by the
    /// original xCos trainer: needed to resume training, not to verify, so inference drops it.</summary>
    public const string MarginHeadPrefix = "head.";

    /// <summary>Reads <paramref name="path"/>, builds the matching model in eval mode and loads it strictly
    /// (a margin head, <c>head.*</c>, is ignored: it only classifies training identities).</summary>
    /// <exception cref="CheckpointException">Unreadable checkpoint or keys that do not fit (named).</exception>
    public static XcosModel Load(string path, Overrides? overrides = null)
    {
        var sd = XcosCheckpoint.ReadStateDict(path);
        foreach (var key in sd.Keys.Where(k => k.StartsWith(MarginHeadPrefix, StringComparison.Ordinal)).ToList())
        {
            sd[key].Dispose();
            sd.Remove(key);
        }
        try
        {
            var options = Infer(sd, overrides ?? new Overrides(), path);
            var model = new XcosModel(options);
            try
            {
                // a target the user dropped ("none") is skipped, not reported as unexpected keys
                var keep = options.TargetArch is null
                    ? sd.Where(kv => !kv.Key.StartsWith("backbone_target.", StringComparison.Ordinal)).ToDictionary()
                    : sd;
                XcosCheckpoint.Load(model, keep, new CheckpointLoadOptions(), path);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            model.eval();
            return model;
        }
        finally
        {
            foreach (var t in sd.Values) t.Dispose();
        }
    }

    /// <summary>The model options a state dict implies, with <paramref name="overrides"/> applied.</summary>
    public static XcosModelOptions Infer(IReadOnlyDictionary<string, Tensor> stateDict, Overrides overrides, string source = "<state dict>")
    {
        if (!stateDict.Keys.Any(k => k.StartsWith("backbone.", StringComparison.Ordinal)))
            throw new CheckpointException(source, "has no 'backbone.*' keys: not an xCos checkpoint (for a bare backbone file, load it into a backbone module).");
        string arch = overrides.Arch ?? InferArch(stateDict, "backbone");
        var stages = overrides.Stages ?? (overrides.Depth is null && arch != "mobilefacenet" ? InferStages(stateDict, "backbone", source) : null);
        string? target = overrides.TargetArch switch
        {
            "none" => null,
            null => stateDict.Keys.Any(k => k.StartsWith("backbone_target.", StringComparison.Ordinal)) ? InferArch(stateDict, "backbone_target") : null,
            var t => t,
        };
        int gridChannels = stateDict.TryGetValue("backbone.conv1x1.0.weight", out var g) ? (int)g.shape[0] : 32;
        // the grid layer is a valid convolution of the 7x7 map: a k x k kernel gives a (8-k)x(8-k) grid
        int gridSize = g is { ndim: 4 } && g.shape[2] == g.shape[3] && g.shape[2] is >= 1 and <= FaceBackbone.MapSize
            ? FaceBackbone.MapSize - (int)g.shape[2] + 1
            : g is null ? FaceBackbone.MapSize
            : throw new CheckpointException(source, $"'backbone.conv1x1.0.weight' has shape [{string.Join(",", g.shape)}]; expected a square kernel of side 1..{FaceBackbone.MapSize} (grid side 8 - kernel).");
        return new XcosModelOptions
        {
            Arch = arch,
            Stages = stages,
            Depth = overrides.Depth ?? 50,
            TargetArch = target,
            TargetStages = target is null or "mobilefacenet" || overrides.Stages is not null || overrides.Depth is not null ? null
                : InferStages(stateDict, "backbone_target", source),
            GridChannels = gridChannels,
            GridSize = gridSize,
        };
    }

    private static string InferArch(IReadOnlyDictionary<string, Tensor> sd, string prefix)
    {
        if (sd.Keys.Any(k => k.StartsWith(prefix + ".conv_6_sep.", StringComparison.Ordinal))) return "mobilefacenet";
        return sd.Keys.Any(k => k.StartsWith(prefix + ".body.", StringComparison.Ordinal) && k.Contains(".res_layer.5.fc1.", StringComparison.Ordinal))
            ? "ir_se" : "ir";
    }

    // Units in order; a new stage starts where the output depth changes (the first unit of each stage widens).
    private static int[] InferStages(IReadOnlyDictionary<string, Tensor> sd, string prefix, string source)
    {
        var stages = new List<(long Depth, int Count)>();
        for (int i = 0; sd.TryGetValue($"{prefix}.body.{i}.res_layer.1.weight", out var w); i++)
        {
            long depth = w.shape[0];
            if (stages.Count > 0 && stages[^1].Depth == depth) stages[^1] = (depth, stages[^1].Count + 1);
            else stages.Add((depth, 1));
        }
        if (stages.Count == 0) throw new CheckpointException(source, $"no '{prefix}.body.N.res_layer.1.weight' keys: cannot tell the stage table.");
        return stages.Select(s => s.Count).ToArray();
    }
}
