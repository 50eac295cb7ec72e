using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using Xcos.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.FaceModels;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Config;
using Xcos.ML.Torch.Training;

namespace Xcos.Cli.Commands;

/// <summary><c>xcos train</c>: full xCos training or head-only training of a frozen model, with resume.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Training image folder: DIR/<identity>/<image> (default: data_loader.args.data_dir of --config)." };
        var val = new Option<string[]>("--val") { Description = "Validation pair file(s): InsightFace .bin, LFW pairs.txt or pair TSV (repeatable).", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Output folder for checkpoints and log.csv (default: trainer.save_dir/name of --config)." };
        var mode = new Option<string>("--mode") { Description = "full (backbone + head + attention) or head (frozen model; grid layer + attention only)." };
        mode.AcceptOnlyFromAmong("full", "head");
        var depth = new Option<int?>("--depth") { Description = "IR/IR-SE preset depth: 18, 34, 50, 100, 152." };
        var stages = new Option<string?>("--stages") { Description = "Explicit stage table, e.g. 1,1,1,1 (wins over --depth)." };
        var arch = new Option<string?>("--arch") { Description = "Backbone: ir, ir_se or mobilefacenet (full mode)." };
        var target = new Option<string?>("--target") { Description = "Frozen target/teacher checkpoint (xCos or plain backbone). Required in head mode." };
        var targetArch = new Option<string?>("--target-arch") { Description = "Architecture of the target (default ir_se)." };
        var targetDepth = new Option<int?>("--target-depth") { Description = "Preset depth of the target (default 50)." };
        var targetStages = new Option<string?>("--target-stages") { Description = "Stage table of the target, e.g. 2,2,2,2." };
        var epochs = new Option<int?>("--epochs") { Description = "Total epochs (default 20)." };
        var batch = new Option<int?>("--batch") { Description = "Pairs per batch (default 32)." };
        var config = new Option<string?>("--config") { Description = "Config in the original xCos schema (configs/*.json; xcos_train_config.json) or a JSON file of trainer options; flags override it." };
        var resume = new Option<string?>("--resume") { Description = "Training checkpoint (last.ckpt / best.ckpt) to continue from, or (full mode) a checkpoint of the original xCos trainer (weights, head.kernel, epoch)." };
        var threads = new Option<int?>("--threads") { Description = "Intra-op threads (default: all cores)." };
        var seed = new Option<int?>("--seed") { Description = "Seed (default 0)." };
        var device = new Option<string?>("--device") { Description = "cpu, cuda, cuda:N or auto (default cpu)." };
        var onnxModel = new Option<string?>("--onnx-model") { Description = "Head mode on an ONNX face model instead of --target: fr_feature or a descriptor .json. --data holds aligned 112x112 faces (or photos with --detect); writes OUT/learned_head.onnx for `verify --xcos learned`." };
        var modelsDir = new Option<DirectoryInfo?>("--models-dir") { Description = "Models folder for --onnx-model and --detect (default: $XCOS_MODELS or the user data folder)." };
        var force = new Option<bool>("--force") { Description = "Start afresh in an --out that holds a run, deleting its checkpoints and log." };
        var detect = new Option<bool>("--detect") { Description = "With --onnx-model: --data holds photos; each is aligned on its largest detected face (fr_detect + fr_landmark)." };
        var cmd = new Command("train", "Train xCos (full) or explain a frozen face model (head).")
        {
            data, val, output, mode, depth, stages, arch, target, targetArch, targetDepth, targetStages, epochs, batch, config, resume, threads, seed, device,
            onnxModel, modelsDir, detect, force,
        };
        cmd.SetAction(parse =>
        {
            bool Given(Option o) => parse.GetResult(o) is { Implicit: false };
            // defaults < resumed run's options < --config < flags
            var o = new XcosTrainerOptions();
            string? resumeFrom = parse.GetValue(resume);
            // a torch.save file (the original trainer's checkpoint) brings weights and its epoch, not our options
            if (resumeFrom is not null && TrainingCheckpoint.IsTrainingCheckpoint(resumeFrom))
            {
                try { o = TrainingCheckpoint.ReadOptions(resumeFrom); }
                catch (CheckpointException e) { throw new CliException(e.Message); }
            }
            OriginalConfig? recipe = null;
            if (parse.GetValue(config) is { } cfg)
            {
                if (!File.Exists(cfg)) throw new CliException($"{cfg}: config file not found.", ExitCodes.Usage);
                try
                {
                    if (OriginalConfig.IsOriginalSchema(cfg)) o = (recipe = OriginalConfig.Load(cfg)).Trainer;
                    else o = XcosTrainerOptions.LoadJson(cfg, o);
                }
                catch (InvalidDataException e) { throw new CliException(e.Message, ExitCodes.Usage); }
                if (recipe?.Warning is { } warning) Console.Error.WriteLine("warning: " + warning);
            }
            if (Given(mode)) o = o with { Mode = parse.GetValue(mode) == "head" ? TrainingMode.Head : TrainingMode.Full };
            if (Given(depth)) o = o with { Depth = parse.GetValue(depth)!.Value, Stages = null };
            if (Given(stages)) o = o with { Stages = ModelArgs.ParseStages(parse.GetValue(stages), "--stages")! };
            if (Given(arch)) o = o with { Arch = parse.GetValue(arch)! };
            if (Given(target)) o = o with { TargetCheckpoint = Path.GetFullPath(parse.GetValue(target)!) };
            if (Given(targetArch)) o = o with { TargetArch = parse.GetValue(targetArch)! };
            if (Given(targetDepth)) o = o with { TargetDepth = parse.GetValue(targetDepth)!.Value, TargetStages = null };
            if (Given(targetStages)) o = o with { TargetStages = ModelArgs.ParseStages(parse.GetValue(targetStages), "--target-stages")! };
            if (Given(epochs)) o = o with { Epochs = parse.GetValue(epochs)!.Value };
            if (Given(batch)) o = o with { BatchSize = parse.GetValue(batch)!.Value };
            if (Given(threads)) o = o with { Threads = parse.GetValue(threads) };
            if (Given(seed)) o = o with { Seed = parse.GetValue(seed)!.Value };
            if (Given(device)) o = o with { Device = parse.GetValue(device)! };
            string? onnx = parse.GetValue(onnxModel);
            if (parse.GetValue(detect) && onnx is null) throw new CliException("--detect needs --onnx-model.", ExitCodes.Usage);
            using var onnxSource = onnx is null ? null : OpenOnnx(onnx, parse.GetValue(modelsDir)?.FullName, o.Threads ?? 0);
            using var detector = onnxSource is not null && parse.GetValue(detect) ? OpenDetector(parse.GetValue(modelsDir)?.FullName) : null;
            if (onnxSource is not null)
            {
                if (Given(mode) && o.Mode != TrainingMode.Head) throw new CliException("--onnx-model trains the head only: use --mode head.", ExitCodes.Usage);
                if (Given(target)) throw new CliException("--onnx-model and --target both name the frozen model; give one.", ExitCodes.Usage);
                // the ONNX file stands where a TorchSharp target checkpoint would (recorded in options.json)
                o = o with { Mode = TrainingMode.Head, TargetCheckpoint = onnxSource.OnnxPath, Preprocess = WithDetector(onnxSource.Preprocess, detector) };
            }
            try { o.Validate(); }
            catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }

            string outDir = parse.GetValue(output) ?? (recipe?.SaveDir is { } saveDir ? Path.Combine(saveDir, recipe.Name ?? "xcos") : null)
                ?? throw new CliException("--out is required (or trainer.save_dir in --config).", ExitCodes.Usage);
            if (resumeFrom is not null && parse.GetValue(force)) throw new CliException("--resume continues a run and --force deletes it; give one.", ExitCodes.Usage);
            if (resumeFrom is null && TrainingFiles.DescribeRun(outDir) is { } existing)
            {
                if (!parse.GetValue(force))
                    throw new CliException($"{Path.GetFullPath(outDir)} already holds a training run ({existing}): continue it with --resume {Path.Combine(outDir, TrainingFiles.LastCheckpoint)}, or start afresh with --force (deletes it), or choose another --out.");
                TrainingFiles.RemoveRun(outDir);
            }
            var train = ImageFolder.Load(parse.GetValue(data) ?? recipe?.TrainDataDir
                ?? throw new CliException("--data is required (or data_loader.args.data_dir in --config).", ExitCodes.Usage));
            if (recipe?.ClassNum is { } classNum && classNum != train.Identities.Count)
                Console.Error.WriteLine($"warning: {recipe.Source}: arch.args.class_num is {classNum}; the margin head gets the {train.Identities.Count} identities of {train.Root}.");
            var valFiles = Given(val) ? parse.GetValue(val)! : recipe?.ValidationSets.ToArray() ?? [];
            var pairSets = valFiles.Select(p => PairSetReader.Load(p)).ToArray();

            // first SIGINT (Ctrl+C) or SIGTERM (schedulers, timeout, container stops): finish the step, write a
            // checkpoint, exit 1; a second signal ends the process at once
            using var cts = new CancellationTokenSource();
            Action<PosixSignalContext> onSignal = ctx =>
            {
                if (cts.IsCancellationRequested) return;
                ctx.Cancel = true;
                Console.Error.WriteLine($"xcos: {ctx.Signal}: stopping after this step; the checkpoint keeps it (send again to quit at once)");
                cts.Cancel();
            };
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, onSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, onSignal);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string? learnedHead = null;
            try
            {
                TrainingResult result;
                if (o.Mode == TrainingMode.Full)
                {
                    using var trainer = new XcosTrainer(o, train, pairSets, outDir);
                    if (resumeFrom is not null) trainer.Resume(resumeFrom);
                    result = WithProgress(o.Epochs, p => trainer.Train(p, cts.Token));
                }
                else if (onnxSource is not null)
                {
                    using var trainer = new XcosHeadTrainer(o, onnxSource, train, pairSets, outDir);
                    if (resumeFrom is not null) trainer.Resume(resumeFrom);
                    result = WithProgress(o.Epochs, p => trainer.Train(p, cts.Token));
                    if (!result.Cancelled)
                    {
                        var weights = result.BestCheckpoint is not null ? Path.Combine(trainer.OutputDirectory, TrainingFiles.BestWeights) : Path.Combine(trainer.OutputDirectory, TrainingFiles.LastWeights);
                        learnedHead = Path.Combine(trainer.OutputDirectory, LearnedHead.DefaultFileName);
                        var lastLoss = result.Epochs.Count > 0 ? result.Epochs[^1].Loss : double.NaN;
                        LearnedHeadExport.SaveFromWeightsFile(weights, onnxSource, learnedHead, o.Temperature,
                            LearnedHeadExport.Describe(Path.GetFileName(Path.GetFullPath(train.Root)), train.Count, result.CompletedEpochs, lastLoss));
                    }
                }
                else
                {
                    var source = TorchFeatureMapSource.FromCheckpoint(o.TargetCheckpoint!, o.TargetArch, o.TargetStages, o.TargetDepth,
                        Xcos.ML.Torch.TorchRuntime.Configure(o.Threads, o.Device));
                    using var trainer = new XcosHeadTrainer(o, source, train, pairSets, outDir);
                    if (resumeFrom is not null) trainer.Resume(resumeFrom);
                    result = WithProgress(o.Epochs, p => trainer.Train(p, cts.Token));
                }
                var lastEpoch = result.Epochs.Count > 0 ? result.Epochs[^1] : null;
                Cli.WriteJson(new
                {
                    mode = o.Mode.ToString().ToLowerInvariant(), completedEpochs = result.CompletedEpochs, steps = result.GlobalStep,
                    cancelled = result.Cancelled, lastCheckpoint = result.LastCheckpoint, bestCheckpoint = result.BestCheckpoint,
                    bestMetric = double.IsFinite(result.BestMetric) ? result.BestMetric : (double?)null,
                    seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
                    learnedHead,
                    loss = lastEpoch?.Loss,
                    validation = lastEpoch?.Validation.Select(v => new
                    {
                        name = v.Name, pairs = v.Pairs, skipped = v.SkippedPairs,
                        xcosAccuracy = v.Xcos.AccuracyMean, xcosAuc = v.Xcos.Auc, cosineAccuracy = v.Cosine.AccuracyMean, cosineAuc = v.Cosine.Auc,
                    }),
                });
                return result.Cancelled ? ExitCodes.Failure : ExitCodes.Ok;
            }
            catch (CheckpointException e) { throw new CliException(e.Message); }
        });
        return cmd;
    }

    private static OnnxFeatureMapSource OpenOnnx(string model, string? modelsDir, int threads)
    {
        if (model != "fr_feature" && !File.Exists(model))
            throw new CliException($"--onnx-model '{model}': expected fr_feature or an existing descriptor .json file.", ExitCodes.Usage);
        try { return OnnxFeatureMapSource.Open(model, modelsDir, threads); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException) { throw new CliException(e.Message); }
    }

    private static FaceDetector OpenDetector(string? modelsDir)
    {
        var dir = ModelStore.ResolveDirectory(modelsDir);
        if (!ModelStore.IsComplete(dir)) throw new CliException($"--detect needs the face models in {dir}: run `xcos models fetch`.");
        return FaceDetector.FromDirectory(dir);
    }

    // Photos become aligned faces on the loader threads; a photo without a face is an error naming it (the cache needs every image).
    private static FacePreprocessOptions WithDetector(FacePreprocessOptions p, FaceDetector? detector) => detector is null ? p : p with
    {
        Preprocessor = photo => detector.DetectAndAlign(photo).Face
            ?? throw new InvalidDataException("no face found in the photo (--detect); remove it from --data"),
        SizeMismatch = SizeMismatch.Resize,
    };

    /// <summary>Runs <paramref name="train"/> with a progress bar on stderr (plain lines when stderr is not a terminal).</summary>
    private static TrainingResult WithProgress(int epochs, Func<IProgress<TrainProgress>, TrainingResult> train)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
            return train(new Reporter(p =>
            {
                if (p.Phase == TrainPhase.EpochEnd && p.EpochResult is { } r) Console.Error.WriteLine(EpochLine(r, epochs));
            }));
        TrainingResult? result = null;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("starting", maxValue: 1);
                result = train(new Reporter(p =>
                {
                    switch (p.Phase)
                    {
                        case TrainPhase.Caching:
                        case TrainPhase.Validating:
                            task.Description = Markup.Escape($"{p.Phase.ToString().ToLowerInvariant()} {p.Step}/{p.Steps}");
                            task.MaxValue = Math.Max(1, p.Steps); task.Value = p.Step;
                            break;
                        case TrainPhase.Training:
                            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                                $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F4} {p.PairsPerSecond:F1} pairs/s"));
                            task.MaxValue = Math.Max(1, p.Steps); task.Value = p.Step;
                            break;
                        case TrainPhase.EpochEnd when p.EpochResult is { } r:
                            console.MarkupLine(Markup.Escape(EpochLine(r, epochs)));
                            break;
                    }
                }));
            });
        return result!;
    }

    private static string EpochLine(EpochResult r, int epochs)
    {
        var s = string.Create(CultureInfo.InvariantCulture, $"epoch {r.Epoch}/{epochs}: loss {r.Loss:F4} (ce {r.ClassificationLoss:F4}, xcos mse {r.XcosLoss:F5}), {r.PairsPerSecond:F1} pairs/s, {r.Seconds:F0} s");
        foreach (var v in r.Validation)
            s += string.Create(CultureInfo.InvariantCulture, $"; {v.Name}: xcos acc {v.Xcos.AccuracyMean:P2} auc {v.Xcos.Auc:F4}, cos acc {v.Cosine.AccuracyMean:P2}{(v.SkippedPairs > 0 ? $", {v.SkippedPairs} pairs skipped" : "")}");
        return s + (r.IsBest ? " (best)" : "");
    }

    private sealed class Reporter(Action<TrainProgress> report) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => report(value);
    }
}
