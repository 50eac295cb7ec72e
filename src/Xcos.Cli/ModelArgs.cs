using System.CommandLine;
using System.Globalization;
using TorchSharp;
using Xcos.ML.Torch;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;

namespace Xcos.Cli;

/// <summary>The model options every command that runs a checkpoint shares (verify, eval, faithfulness, export, inspect).</summary>
internal sealed class ModelArgs
{
    public readonly Option<FileInfo?> Checkpoint = new("--checkpoint") { Description = "xCos checkpoint written by torch.save or by `xcos train`" };
    public readonly Option<string?> Arch = new("--arch") { Description = "Backbone: ir | ir_se | mobilefacenet (default: read from the checkpoint)" };
    public readonly Option<string?> Stages = new("--stages") { Description = "Stage table, e.g. 1,1,1,1 (default: read from the checkpoint)" };
    public readonly Option<int?> Depth = new("--depth") { Description = "Depth preset 18|34|50|100|152 instead of --stages" };
    public readonly Option<string?> TargetArch = new("--target-arch") { Description = "Target backbone: ir | ir_se | mobilefacenet | none (default: read from the checkpoint)" };
    public readonly Option<int?> Threads = new("--threads") { Description = "libtorch threads (default: all cores)" };
    public readonly Option<string> Device = new("--device") { Description = "cpu | cuda | cuda:N | auto", DefaultValueFactory = _ => "cpu" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Checkpoint, Arch, Stages, Depth, TargetArch, Threads, Device }) command.Options.Add(o);
    }

    public XcosModelLoader.Overrides Overrides(ParseResult p)
    {
        var arch = p.GetValue(Arch);
        if (arch is not null and not ("ir" or "ir_se" or "mobilefacenet"))
            throw new CliException($"--arch '{arch}': expected ir, ir_se or mobilefacenet.", ExitCodes.Usage);
        var target = p.GetValue(TargetArch);
        if (target is not null and not ("ir" or "ir_se" or "mobilefacenet" or "none"))
            throw new CliException($"--target-arch '{target}': expected ir, ir_se, mobilefacenet or none.", ExitCodes.Usage);
        var depth = p.GetValue(Depth);
        if (depth is not null && !BackboneFactory.Presets.ContainsKey(depth.Value))
            throw new CliException($"--depth {depth}: expected one of {string.Join(", ", BackboneFactory.Presets.Keys)}.", ExitCodes.Usage);
        return new XcosModelLoader.Overrides { Arch = arch, Stages = ParseStages(p.GetValue(Stages)), Depth = depth, TargetArch = target };
    }

    /// <summary>Configures libtorch (threads, device) and loads the checkpoint named by --checkpoint.</summary>
    public (XcosModel Model, TorchSharp.torch.Device Device) Load(ParseResult p)
    {
        var file = p.GetValue(Checkpoint) ?? throw new CliException("--checkpoint is required for this command (a file written by `xcos train` or torch.save).", ExitCodes.Usage);
        if (!file.Exists) throw new CliException($"{file.FullName}: checkpoint not found.");
        var device = TorchRuntime.Configure(p.GetValue(Threads), p.GetValue(Device) ?? "cpu");
        try
        {
            var model = XcosModelLoader.Load(file.FullName, Overrides(p));
            model.to(device);
            return (model, device);
        }
        catch (CheckpointException e) { throw new CliException(e.Message); }
    }

    /// <summary>A stage table such as <c>1,1,1,1</c> given to <paramref name="flag"/>: four positive counts; null when the option was not given (an empty value is an error).</summary>
    public static int[]? ParseStages(string? text, string flag = "--stages")
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var stages = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out stages[i]) || stages[i] < 1)
                throw new CliException($"{flag} '{text}': expected positive integers separated by commas, e.g. 1,1,1,1.", ExitCodes.Usage);
        if (stages.Length != 4) throw new CliException($"{flag} '{text}': expected 4 stages (64/128/256/512 channels), got {stages.Length}.", ExitCodes.Usage);
        return stages;
    }
}
