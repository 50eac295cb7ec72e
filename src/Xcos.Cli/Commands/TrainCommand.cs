using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using Xcos.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Config;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.FaceModels;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;

namespace Xcos.Cli.Commands;

/// <summary><c>xcos train</c>: full xCos training or head-only training of a frozen model, with resume.</summary>
public static class TrainCommand
{
    /// <summary>The command's options.</summary>
    private sealed class Args
    {
        public readonly Option<string> Data = new("--data") { Description = "Training image folder: DIR/<identity>/<image> (default: data_loader.args.data_dir of --config)." };
        public readonly Option<string[]> Val = new("--val") { Description = "Validation pair file(s): InsightFace .bin, LFW pairs.txt or pair TSV (repeatable).", AllowMultipleArgumentsPerToken = true };
        public readonly Option<string> Output = new("--out") { Description = "Output folder for checkpoints and log.csv (default: trainer.save_dir/name of --config)." };
        public readonly Option<string> Mode = new("--mode") { Description = "full (backbone + head + attention), head (frozen model; grid layer + attention only) or occlusion (fr_feature's tail fine-tuned with the learned xCos head and occluders drawn each step; writes OUT/fr_feature_xcos)." };
        public readonly Option<string?> From = new("--from") { Description = "Occlusion mode: first fine-tuned block, conv_4 (default), conv_45 or conv_5." };
        public readonly Option<string?> SettingsPeople = new("--settings-people") { Description = "Occlusion mode: comma-separated people of --data that choose the settings (best epoch, xCos threshold) and are not fitted; default the last 4 by name." };
        public readonly Option<string?> Report = new("--report") { Description = "Occlusion mode: photos of other people (DIR/<person>/*.jpg, e.g. shared/dev-faces), aligned by the detector; the model's record reports on them." };
        public readonly Option<string?> Losses = new("--losses") { Description = "Occlusion mode: the loss terms, comma-separated among distill, xcos, verify (default all three)." };
        public readonly Option<int?> Depth = new("--depth") { Description = "IR/IR-SE preset depth: 18, 34, 50, 100, 152." };
        public readonly Option<string?> Stages = new("--stages") { Description = "Explicit stage table, e.g. 1,1,1,1 (wins over --depth)." };
        public readonly Option<string?> Arch = new("--arch") { Description = "Backbone: ir, ir_se or mobilefacenet (full mode)." };
        public readonly Option<string?> Target = new("--target") { Description = "Frozen target/teacher checkpoint (xCos or plain backbone). Required in head mode." };
        public readonly Option<string?> TargetArch = new("--target-arch") { Description = "Architecture of the target (default ir_se)." };
        public readonly Option<int?> TargetDepth = new("--target-depth") { Description = "Preset depth of the target (default 50)." };
        public readonly Option<string?> TargetStages = new("--target-stages") { Description = "Stage table of the target, e.g. 2,2,2,2." };
        public readonly Option<int?> Epochs = new("--epochs") { Description = "Total epochs (default 20)." };
        public readonly Option<int?> Batch = new("--batch") { Description = "Pairs per batch (default 32)." };
        public readonly Option<string?> Config = new("--config") { Description = "Config in the original xCos schema (configs/*.json; xcos_train_config.json) or a JSON file of trainer options; flags override it." };
        public readonly Option<string?> Resume = new("--resume") { Description = "Training checkpoint (last.ckpt / best.ckpt) to continue from, or (full mode) a checkpoint of the original xCos trainer (weights, head.kernel, epoch)." };
        public readonly Option<int?> Threads = new("--threads") { Description = "Intra-op threads (default: all cores)." };
        public readonly Option<int?> Seed = new("--seed") { Description = "Seed (default 0)." };
        public readonly Option<string?> Device = new("--device") { Description = "cpu, cuda, cuda:N or auto (default cpu)." };
        public readonly Option<string?> OnnxModel = new("--onnx-model") { Description = "Head mode on an ONNX face model instead of --target: fr_feature or a descriptor .json. --data holds aligned 112x112 faces (or photos with --detect); writes OUT/learned_head.onnx for `verify --xcos learned`." };
        public readonly Option<DirectoryInfo?> ModelsDir = new("--models-dir") { Description = "Models folder for --onnx-model and --detect (default: $XCOS_MODELS or the user data folder)." };
        public readonly Option<bool> Force = new("--force") { Description = "Start afresh in an --out that holds a run, deleting its checkpoints and log." };
        public readonly Option<bool> Detect = new("--detect") { Description = "With --onnx-model: --data holds photos; each is aligned on its largest detected face (fr_detect + fr_landmark)." };

        public Args() => Mode.AcceptOnlyFromAmong([.. TrainingModeText.Map.Texts]);

        public IEnumerable<Option> All() =>
        [
            Data, Val, Output, Mode, Depth, Stages, Arch, Target, TargetArch, TargetDepth, TargetStages, Epochs, Batch, Config, Resume, Threads, Seed, Device,
            OnnxModel, ModelsDir, Detect, Force, From, SettingsPeople, Report, Losses,
        ];
    }

    public static Command Create()
    {
        var a = new Args();
        var cmd = new Command("train", "Train xCos (full) or explain a frozen face model (head).");
        foreach (var o in a.All()) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            string? resumeFrom = parse.GetValue(a.Resume);
            var (options, recipe, resumed) = ResumedOrConfigured(parse, a, resumeFrom);
            options = WithFlags(parse, a, options);
            if (options.Mode == TrainingMode.Occlusion) return Occlusion(parse, a, options, recipe, resumeFrom);
            if (parse.GetValue(a.Detect) && parse.GetValue(a.OnnxModel) is null) throw new CliException("--detect needs --onnx-model.", ExitCodes.Usage);
            using var onnxSource = parse.GetValue(a.OnnxModel) is { } onnx ? OpenOnnx(onnx, parse.GetValue(a.ModelsDir)?.FullName, options.Threads ?? 0) : null;
            using var detector = onnxSource is not null && parse.GetValue(a.Detect) ? OpenDetector(parse.GetValue(a.ModelsDir)?.FullName) : null;
            if (onnxSource is not null) options = OnOnnxModel(parse, a, options, onnxSource, detector);
            try { options.Validate(); }
            catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }
            if (resumed is not null) CheckResume(parse, a, resumed, options, resumeFrom!);
            string outDir = OutputFolder(parse, a, recipe, resumeFrom);
            var (train, pairSets) = LoadData(parse, a, recipe);
            using var stop = new StopOnSignal();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                var (result, learnedHead) = Run(options, onnxSource, train, pairSets, outDir, resumeFrom, stop.Token);
                WriteSummary(options, result, learnedHead, clock.Elapsed);
                return result.Cancelled ? ExitCodes.Failure : ExitCodes.Ok;
            }
            catch (CheckpointException e) { throw new CliException(e.Message); }
        });
        return cmd;
    }

    private static int Occlusion(ParseResult parse, Args a, XcosTrainerOptions o, OriginalConfig? recipe, string? resumeFrom)
    {
        if (parse.GetValue(a.OnnxModel) is { } m && m != "fr_feature") throw new CliException("--mode occlusion fine-tunes fr_feature (the only MobileFaceNet face model).", ExitCodes.Usage);
        if (parse.GetValue(a.From) is { } from) o = o with { FineTuneFrom = TrainOcclusion.ParseStage(from) };
        if (parse.GetValue(a.Losses) is { } losses)
        {
            var terms = losses.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            var unknown = terms.Except(["distill", "xcos", "verify"]).ToList();
            if (unknown.Count > 0 || terms.Count == 0) throw new CliException($"--losses '{losses}': expected some of distill, xcos, verify.", ExitCodes.Usage);
            o = o with
            {
                DistillationWeight = terms.Contains("distill") ? Math.Max(o.DistillationWeight, 1e-9) : 0,
                XcosWeight = terms.Contains("xcos") ? o.XcosWeight : 0,
                VerificationWeight = terms.Contains("verify") ? Math.Max(o.VerificationWeight, 1e-9) : 0,
            };
        }
        if (parse.GetResult(a.Epochs) is not { Implicit: false } && resumeFrom is null && parse.GetValue(a.Config) is null) o = o with { Epochs = 6 };
        string outDir = OutputFolder(parse, a, recipe, resumeFrom);
        string data = parse.GetValue(a.Data) ?? recipe?.TrainDataDir ?? throw new CliException("--data is required (aligned crops, one folder per person).", ExitCodes.Usage);
        using var stop = new StopOnSignal();
        try
        {
            return TrainOcclusion.Run(o, data, parse.GetValue(a.SettingsPeople), parse.GetValue(a.Report), parse.GetValue(a.ModelsDir)?.FullName, outDir, resumeFrom,
                ConfigNamesOptimisers(parse.GetValue(a.Config)), stop.Token);
        }
        catch (CheckpointException e) { throw new CliException(e.Message); }
    }

    // Whether a JSON options file sets an optimiser (else the occlusion recipe's optimisers apply).
    private static bool ConfigNamesOptimisers(string? config)
    {
        if (config is null || OriginalConfig.IsOriginalSchema(config)) return config is not null;
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(config), new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return doc.RootElement.EnumerateObject().Any(p => p.Name.ToLowerInvariant() is "backbone" or "gridlayer" or "attention");
    }

    /// <summary>
    /// Defaults, replaced by the resumed run's options, then by --config (flags come after); also the resumed run's own
    /// options (null unless --resume names a training checkpoint of this trainer).
    /// </summary>
    private static (XcosTrainerOptions Options, OriginalConfig? Recipe, XcosTrainerOptions? Resumed) ResumedOrConfigured(ParseResult parse, Args a, string? resumeFrom)
    {
        var o = new XcosTrainerOptions();
        XcosTrainerOptions? resumed = null;
        // a torch.save file (the original trainer's checkpoint) brings weights and its epoch, not our options
        if (resumeFrom is not null && TrainingCheckpoint.IsTrainingCheckpoint(resumeFrom))
        {
            try { o = resumed = TrainingCheckpoint.ReadOptions(resumeFrom); }
            catch (CheckpointException e) { throw new CliException(e.Message); }
        }
        if (parse.GetValue(a.Config) is not { } cfg) return (o, null, resumed);
        if (!File.Exists(cfg)) throw new CliException($"{cfg}: config file not found.", ExitCodes.Usage);
        OriginalConfig? recipe = null;
        try
        {
            if (OriginalConfig.IsOriginalSchema(cfg)) o = (recipe = OriginalConfig.Load(cfg)).Trainer;
            else o = XcosTrainerOptions.LoadJson(cfg, o);
        }
        catch (InvalidDataException e) { throw new CliException(e.Message, ExitCodes.Usage); }
        if (recipe?.Warning is { } warning) Console.Error.WriteLine("warning: " + warning);
        return (o, recipe, resumed);
    }

    /// <summary>
    /// A resumed run keeps its network: flags (or a --config) that would change it are refused in one line, where the
    /// checkpoint's weights then failed to fit with a page of mis-shaped tensors; network flags that change nothing
    /// (the run's own values, or a --depth in head mode) are said to change nothing; a run that has done all its epochs says so.
    /// </summary>
    private static void CheckResume(ParseResult parse, Args a, XcosTrainerOptions resumed, XcosTrainerOptions options, string resumeFrom)
    {
        var given = new (Option Option, string Text)[]
        {
            (a.Mode, $"--mode {parse.GetValue(a.Mode)}"), (a.Arch, $"--arch {parse.GetValue(a.Arch)}"), (a.Depth, $"--depth {parse.GetValue(a.Depth)}"),
            (a.Stages, $"--stages {parse.GetValue(a.Stages)}"), (a.TargetArch, $"--target-arch {parse.GetValue(a.TargetArch)}"),
            (a.TargetDepth, $"--target-depth {parse.GetValue(a.TargetDepth)}"), (a.TargetStages, $"--target-stages {parse.GetValue(a.TargetStages)}"),
        }.Where(f => parse.GetResult(f.Option) is { Implicit: false }).Select(f => f.Text).ToList();
        string was = Network(resumed), now = Network(options);
        if (was != now)
        {
            string by = given.Count > 0 ? string.Join(" ", given) : $"--config {parse.GetValue(a.Config)}";
            throw new CliException($"{by}: {resumeFrom} was trained as {was}, this asks for {now}; a resumed run keeps its network: " +
                "drop the change, or start a new run (another --out, or --force).", ExitCodes.Usage);
        }
        if (given.Count > 0) Console.Error.WriteLine($"note: {string.Join(" ", given)} change(s) nothing: {resumeFrom} continues as {was}.");
        var state = TrainingCheckpoint.ReadState(resumeFrom);
        if (state.CompletedEpochs >= options.Epochs)
            Console.Error.WriteLine($"note: {resumeFrom} has completed {state.CompletedEpochs} of {options.Epochs} epoch(s): nothing left to train; raise --epochs to continue.");
    }

    // What a checkpoint's weights must fit: the modules each mode builds, and their shapes.
    private static string Network(XcosTrainerOptions o)
    {
        static string Layout(string arch, int[]? stages, int depth)
        {
            try
            {
                var (kind, nameDepth) = BackboneFactory.Parse(arch);
                return kind == "mobilefacenet" ? kind : $"{kind} stages {string.Join(',', stages ?? BackboneFactory.StagesFor(nameDepth ?? depth))}";
            }
            catch (ArgumentException) { return $"{arch} depth {depth}"; }
        }
        string grid = $"{o.GridChannels} grid channels, grid {o.GridSize}";
        bool onnxTarget = o.TargetCheckpoint?.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) == true || o.TargetCheckpoint?.EndsWith(".json", StringComparison.OrdinalIgnoreCase) == true;
        string target = o.TargetCheckpoint is null ? "" : onnxTarget ? "an ONNX face model" : Layout(o.TargetArch, o.TargetStages, o.TargetDepth);
        return o.Mode switch
        {
            TrainingMode.Full => $"full mode, {Layout(o.Arch, o.Stages, o.Depth)}, {grid}" + (target.Length > 0 ? $", target {target}" : ""),
            TrainingMode.Head => $"head mode on {target}, {grid}",
            _ => $"{o.Mode.ToText()} mode from {o.FineTuneFrom}",
        };
    }

    /// <summary>The flags given on the command line win over everything else.</summary>
    private static XcosTrainerOptions WithFlags(ParseResult parse, Args a, XcosTrainerOptions o)
    {
        bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
        if (Given(a.Mode)) o = o with { Mode = TrainingModeText.Map.Parse(parse.GetValue(a.Mode)) };
        if (Given(a.Depth)) o = o with { Depth = parse.GetValue(a.Depth)!.Value, Stages = null };
        if (Given(a.Stages)) o = o with { Stages = ModelArgs.ParseStages(parse.GetValue(a.Stages), "--stages")! };
        if (Given(a.Arch)) o = o with { Arch = parse.GetValue(a.Arch)! };
        if (Given(a.Target)) o = o with { TargetCheckpoint = Path.GetFullPath(parse.GetValue(a.Target)!) };
        if (Given(a.TargetArch)) o = o with { TargetArch = parse.GetValue(a.TargetArch)! };
        if (Given(a.TargetDepth)) o = o with { TargetDepth = parse.GetValue(a.TargetDepth)!.Value, TargetStages = null };
        if (Given(a.TargetStages)) o = o with { TargetStages = ModelArgs.ParseStages(parse.GetValue(a.TargetStages), "--target-stages")! };
        if (Given(a.Epochs)) o = o with { Epochs = parse.GetValue(a.Epochs)!.Value };
        if (Given(a.Batch)) o = o with { BatchSize = parse.GetValue(a.Batch)!.Value };
        if (Given(a.Threads)) o = o with { Threads = parse.GetValue(a.Threads) };
        if (Given(a.Seed)) o = o with { Seed = parse.GetValue(a.Seed)!.Value };
        if (Given(a.Device)) o = o with { Device = parse.GetValue(a.Device)! };
        return o;
    }

    /// <summary>Head-only training on an ONNX face model: the ONNX file stands where a target checkpoint would (recorded in options.json).</summary>
    private static XcosTrainerOptions OnOnnxModel(ParseResult parse, Args a, XcosTrainerOptions o, OnnxFeatureMapSource onnxSource, FaceDetector? detector)
    {
        if (parse.GetResult(a.Mode) is { Implicit: false } && o.Mode != TrainingMode.Head) throw new CliException("--onnx-model trains the head only: use --mode head.", ExitCodes.Usage);
        if (parse.GetResult(a.Target) is { Implicit: false }) throw new CliException("--onnx-model and --target both name the frozen model; give one.", ExitCodes.Usage);
        return o with { Mode = TrainingMode.Head, TargetCheckpoint = onnxSource.OnnxPath, Preprocess = WithDetector(onnxSource.Preprocess, detector) };
    }

    /// <summary>The run's folder; a run already there is continued only with --resume and deleted only with --force.</summary>
    private static string OutputFolder(ParseResult parse, Args a, OriginalConfig? recipe, string? resumeFrom)
    {
        string outDir = parse.GetValue(a.Output) ?? (recipe?.SaveDir is { } saveDir ? Path.Combine(saveDir, recipe.Name ?? "xcos") : null)
            ?? throw new CliException("--out is required (or trainer.save_dir in --config).", ExitCodes.Usage);
        bool force = parse.GetValue(a.Force);
        if (resumeFrom is not null && force) throw new CliException("--resume continues a run and --force deletes it; give one.", ExitCodes.Usage);
        if (resumeFrom is null && TrainingFiles.DescribeRun(outDir) is { } existing)
        {
            if (!force)
                throw new CliException($"{Path.GetFullPath(outDir)} already holds a training run ({existing}): continue it with --resume {Path.Combine(outDir, TrainingFiles.LastCheckpoint)}, or start afresh with --force (deletes it), or choose another --out.");
            TrainingFiles.RemoveRun(outDir);
        }
        return outDir;
    }

    /// <summary>The training images and the validation pair sets (flags, else the config's).</summary>
    private static (ImageFolder Train, PairSet[] Validation) LoadData(ParseResult parse, Args a, OriginalConfig? recipe)
    {
        var train = ImageFolder.Load(parse.GetValue(a.Data) ?? recipe?.TrainDataDir
            ?? throw new CliException("--data is required (or data_loader.args.data_dir in --config).", ExitCodes.Usage));
        if (recipe?.ClassNum is { } classNum && classNum != train.Identities.Count)
            Console.Error.WriteLine($"warning: {recipe.Source}: arch.args.class_num is {classNum}; the margin head gets the {train.Identities.Count} identities of {train.Root}.");
        var valFiles = parse.GetResult(a.Val) is { Implicit: false } ? parse.GetValue(a.Val)! : recipe?.ValidationSets.ToArray() ?? [];
        return (train, valFiles.Select(p => PairSetReader.Load(p)).ToArray());
    }

    /// <summary>Trains in the mode the options say; head training on an ONNX model also writes the learned head (its path returned).</summary>
    private static (TrainingResult Result, string? LearnedHead) Run(XcosTrainerOptions o, OnnxFeatureMapSource? onnxSource, ImageFolder train,
        PairSet[] pairSets, string outDir, string? resumeFrom, CancellationToken cancel)
    {
        if (o.Mode == TrainingMode.Full)
        {
            using var trainer = new XcosTrainer(o, train, pairSets, outDir);
            if (resumeFrom is not null) trainer.Resume(resumeFrom);
            return (WithProgress(o.Epochs, p => trainer.Train(p, cancel)), null);
        }
        if (onnxSource is null)
        {
            var source = TorchFeatureMapSource.FromCheckpoint(o.TargetCheckpoint!, o.TargetArch, o.TargetStages, o.TargetDepth,
                Xcos.ML.Torch.TorchRuntime.Configure(o.Threads, o.Device));
            using var trainer = new XcosHeadTrainer(o, source, train, pairSets, outDir);
            if (resumeFrom is not null) trainer.Resume(resumeFrom);
            return (WithProgress(o.Epochs, p => trainer.Train(p, cancel)), null);
        }
        using var onnxTrainer = new XcosHeadTrainer(o, onnxSource, train, pairSets, outDir);
        if (resumeFrom is not null) onnxTrainer.Resume(resumeFrom);
        var result = WithProgress(o.Epochs, p => onnxTrainer.Train(p, cancel));
        if (result.Cancelled) return (result, null);
        var weights = Path.Combine(onnxTrainer.OutputDirectory, result.BestCheckpoint is not null ? TrainingFiles.BestWeights : TrainingFiles.LastWeights);
        var learnedHead = Path.Combine(onnxTrainer.OutputDirectory, LearnedHead.DefaultFileName);
        var lastLoss = result.Epochs.Count > 0 ? result.Epochs[^1].Loss : double.NaN;
        LearnedHeadExport.SaveFromWeightsFile(weights, onnxSource, learnedHead, o.Temperature,
            LearnedHeadExport.Describe(Path.GetFileName(Path.GetFullPath(train.Root)), train.Count, result.CompletedEpochs, lastLoss));
        return (result, learnedHead);
    }

    /// <summary>One JSON line (snake_case like every command's) of what the run did.</summary>
    private static void WriteSummary(XcosTrainerOptions o, TrainingResult result, string? learnedHead, TimeSpan elapsed)
    {
        var lastEpoch = result.Epochs.Count > 0 ? result.Epochs[^1] : null;
        Cli.WriteJson(new Dictionary<string, object?>
        {
            ["mode"] = o.Mode.ToText(),
            ["completed_epochs"] = result.CompletedEpochs,
            ["steps"] = result.GlobalStep,
            ["cancelled"] = result.Cancelled,
            ["last_checkpoint"] = result.LastCheckpoint,
            ["best_checkpoint"] = result.BestCheckpoint,
            ["best_metric"] = double.IsFinite(result.BestMetric) ? result.BestMetric : null,
            ["seconds"] = Math.Round(elapsed.TotalSeconds, 1),
            ["learned_head"] = learnedHead,
            ["loss"] = lastEpoch?.Loss,
            ["validation"] = lastEpoch?.Validation.Select(v => new Dictionary<string, object>
            {
                ["name"] = v.Name, ["pairs"] = v.Pairs, ["skipped"] = v.SkippedPairs,
                ["xcos_accuracy"] = v.Xcos.AccuracyMean, ["xcos_auc"] = v.Xcos.Auc, ["cosine_accuracy"] = v.Cosine.AccuracyMean, ["cosine_auc"] = v.Cosine.Auc,
            }).ToArray(),
        });
    }

    /// <summary>
    /// First SIGINT (Ctrl+C) or SIGTERM (schedulers, timeout, container stops): finish the step, write a checkpoint, exit 1;
    /// a second signal ends the process at once.
    /// </summary>
    private sealed class StopOnSignal : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly PosixSignalRegistration _sigint;
        private readonly PosixSignalRegistration _sigterm;

        public StopOnSignal()
        {
            _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        }

        public CancellationToken Token => _cts.Token;

        private void OnSignal(PosixSignalContext ctx)
        {
            if (_cts.IsCancellationRequested) return;
            ctx.Cancel = true;
            Console.Error.WriteLine($"xcos: {ctx.Signal}: stopping after this step; the checkpoint keeps it (send again to quit at once)");
            _cts.Cancel();
        }

        public void Dispose()
        {
            _sigint.Dispose();
            _sigterm.Dispose();
            _cts.Dispose();
        }
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
    internal static TrainingResult WithProgress(int epochs, Func<IProgress<TrainProgress>, TrainingResult> train)
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
