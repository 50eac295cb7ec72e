using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Data;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// Full xCos training (Lin et al., arXiv 2003.05383): a grid backbone with a margin head (ArcFace or CosFace) over
/// the training identities and the attention branch, trained on pairs. Loss per batch of pairs:
/// <c>ClassificationWeight * (CE(head(flat1), y1) + CE(head(flat2), y2)) + XcosWeight * MSE(xCos, targetCos)</c>, where
/// targetCos is the cosine of a frozen target backbone's embeddings (<see cref="XcosTrainerOptions.TargetCheckpoint"/>)
/// or, without one, the detached cosine of the current flattened grid embeddings. Three optimisers (backbone, head,
/// attention) and a per-epoch StepLR schedule; every epoch validates on the given pair sets, writes the resumable
/// checkpoint atomically, keeps the best one and appends to the CSV log.
/// </summary>
public sealed class XcosTrainer : IDisposable
{
    private readonly ImageFolder _train;
    private readonly PairSet[] _validation;
    private readonly FaceImageLoader _loader;
    private readonly PairBatchSource _source;
    private readonly Dictionary<string, OptimizerHelper> _optimizers;
    private readonly Dictionary<string, double> _initialRates;
    private readonly Ref<TrainingState> _state;

    /// <summary>Builds the networks and optimisers; nothing is trained yet.</summary>
    /// <param name="options">Training options (Mode must be Full).</param>
    /// <param name="train">Identity-labelled training images.</param>
    /// <param name="validation">Pair sets scored after every epoch (may be empty).</param>
    /// <param name="outputDirectory">Folder for checkpoints and the log; created when missing.</param>
    public XcosTrainer(XcosTrainerOptions options, ImageFolder train, IReadOnlyList<PairSet>? validation, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        options.Validate();
        if (options.Mode != TrainingMode.Full) throw new ArgumentException("XcosTrainer trains Mode = Full; use XcosHeadTrainer for head-only training.", nameof(options));
        _train = train ?? throw new ArgumentNullException(nameof(train));
        if (train.Identities.Count < 2) throw new ArgumentException($"{train.Root}: full training needs at least 2 identities, found {train.Identities.Count}.", nameof(train));
        _validation = (validation ?? []).ToArray();
        OutputDirectory = Path.GetFullPath(outputDirectory);
        Directory.CreateDirectory(OutputDirectory);
        Device = TorchRuntime.Configure(options.Threads, options.Device);
        // every step frees and re-allocates the same gigabytes of activations: keep them instead of page-faulting them again
        HostMemory.RetainFreedMemory();

        torch.manual_seed(options.Seed);
        Model = new XcosModel(options.ModelOptions(withTarget: options.TargetCheckpoint is not null));
        if (options.TargetCheckpoint is not null) TrainerSupport.LoadTarget(Model.BackboneTarget!, options.TargetCheckpoint);
        int emb = Model.Backbone.GridEmbeddingSize, classes = train.Identities.Count;
        Head = options.MarginHead == MarginHeadKind.ArcFace
            ? new ArcFaceHead(emb, classes, options.MarginScale ?? 64.0, options.Margin ?? 0.5)
            : new CosFaceHead(emb, classes, options.MarginScale ?? 30.0, options.Margin ?? 0.35);
        Model.to(Device);
        Head.to(Device);

        _optimizers = new()
        {
            ["backbone"] = TrainerSupport.CreateOptimizer(Model.Backbone.parameters().Where(p => p.requires_grad), options.Backbone),
            ["head"] = TrainerSupport.CreateOptimizer(Head.parameters(), options.Head),
            ["attention"] = TrainerSupport.CreateOptimizer(Model.AttentionNet.parameters(), options.Attention),
        };
        _initialRates = new()
        {
            ["backbone"] = options.Backbone.LearningRate, ["head"] = options.Head.LearningRate, ["attention"] = options.Attention.LearningRate,
        };
        _loader = new FaceImageLoader(options.Preprocess);
        _source = new PairBatchSource(train, _loader, new PairBatchOptions
        {
            BatchSize = options.BatchSize, FlipProbability = options.FlipProbability,
            Prefetch = options.Prefetch, DecodeThreads = options.DecodeThreads,
        }, options.Seed);
        _state = new Ref<TrainingState>(new TrainingState { Mode = TrainingMode.Full, Identities = train.Identities.ToArray() });
    }

    /// <summary>The recipe in effect (optimizer, schedule, batch size, epochs).</summary>
    public XcosTrainerOptions Options { get; }
    /// <summary>The network being trained.</summary>
    public XcosModel Model { get; }
    /// <summary>The margin head over the training identities.</summary>
    public MarginHead Head { get; }
    /// <summary>Device of the model and the batches.</summary>
    public Device Device { get; }
    /// <summary>Folder of the checkpoints, log and options of this run.</summary>
    public string OutputDirectory { get; }
    /// <summary>Position of the run (epochs done, steps, best metric).</summary>
    public TrainingState State => _state.Value;
    /// <summary>Training steps per epoch.</summary>
    public int StepsPerEpoch => _source.BatchesPerEpoch;

    /// <summary>
    /// Restores a checkpoint written by this trainer: weights, optimiser states, generator state and position, so that
    /// training continues exactly as if it had not stopped.
    /// </summary>
    /// <exception cref="CheckpointException">Not a full-mode checkpoint of the same identities / shapes.</exception>
    public void Resume(string checkpoint)
    {
        if (!TrainingCheckpoint.IsTrainingCheckpoint(checkpoint)) { ResumeFromTorchCheckpoint(checkpoint); return; }
        var state = TrainingCheckpoint.ReadState(checkpoint);
        if (state.Mode != TrainingMode.Full) throw new CheckpointException(checkpoint, $"is a {state.Mode}-mode checkpoint; this trainer is full mode.");
        if (!state.Identities.SequenceEqual(_train.Identities))
            throw new CheckpointException(checkpoint, $"was trained on {state.Identities.Length} identities that differ from the {_train.Identities.Count} of {_train.Root}; the margin head cannot be reused.");
        _state.Value = TrainingCheckpoint.Load(checkpoint, Modules, _optimizers);
    }

    /// <summary>
    /// Continues from a <c>torch.save</c> checkpoint such as the original xCos trainer writes: the model weights, the
    /// margin head (<c>head.kernel</c>, which must cover this run's identities; a file without one starts a fresh head)
    /// and the file's <c>epoch</c> (required: a weights-only file is refused). Optimiser states start afresh: PyTorch's optimiser state is not TorchSharp's.
    /// </summary>
    private void ResumeFromTorchCheckpoint(string path)
    {
        using var contents = XcosCheckpoint.Read(path);
        // weights alone (no 'epoch', as last.pth / best.pth or a published model) are no training position
        if (contents.Epoch is null)
            throw new CheckpointException(path, "holds model weights only (neither this trainer's state.json nor the original trainer's 'epoch'): it cannot be resumed; start a new run (or pass it as the target).");
        const string head = XcosModelLoader.MarginHeadPrefix, target = "backbone_target.";
        var headKeys = contents.StateDict.Where(kv => kv.Key.StartsWith(head, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[head.Length..], kv => kv.Value);
        var modelKeys = contents.StateDict.Where(kv => !kv.Key.StartsWith(head, StringComparison.Ordinal)
            && (Model.BackboneTarget is not null || !kv.Key.StartsWith(target, StringComparison.Ordinal))).ToDictionary();
        // the target backbone may come from TargetCheckpoint instead of this file
        var report = XcosCheckpoint.Load(Model, modelKeys, new CheckpointLoadOptions { Strict = false }, path);
        var missing = report.Missing.Where(k => !k.StartsWith(target, StringComparison.Ordinal)).ToList();
        if (missing.Count > 0 || report.Unexpected.Count > 0)
            throw new CheckpointException(path, $"does not fit the model; {missing.Count} missing: {string.Join(", ", missing.Take(10))}; {report.Unexpected.Count} unexpected: {string.Join(", ", report.Unexpected.Take(10))}.",
                missing, report.Unexpected, []);
        if (headKeys.TryGetValue("kernel", out var kernel) && !kernel.shape.SequenceEqual(Head.Kernel.shape))
            throw new CheckpointException(path, $"head.kernel is [{string.Join(",", kernel.shape)}]; this run's margin head is [{string.Join(",", Head.Kernel.shape)}] " +
                $"({Head.Kernel.shape[0]}-d embedding x {_train.Identities.Count} identities of {_train.Root}).");
        if (headKeys.Count > 0) XcosCheckpoint.Load(Head, headKeys, new CheckpointLoadOptions(), path);
        _state.Value = _state.Value with { CompletedEpochs = Math.Max(0, contents.Epoch.Value) };
    }

    private IReadOnlyDictionary<string, nn.Module> Modules => new Dictionary<string, nn.Module> { ["model"] = Model, ["head"] = Head };

    /// <summary>Trains until <see cref="XcosTrainerOptions.Epochs"/> epochs are done or <paramref name="cancellationToken"/> fires.</summary>
    /// <param name="progress">Receives a report after every step and phase change (called on the training thread).</param>
    /// <param name="cancellationToken">Stops after the current step; a checkpoint of the interrupted epoch is written and the result says Cancelled.</param>
    /// <exception cref="TrainingDivergedException">The loss became NaN/Inf (no update applied; the previous checkpoint is kept).</exception>
    /// <exception cref="InvalidDataException">A training image cannot be read (the message names the file).</exception>
    public TrainingResult Train(IProgress<TrainProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var board = Options.TensorBoard ? new TrainingTensorBoard(Path.Combine(OutputDirectory, TrainingFiles.TensorBoard), _validation, Options.Preprocess) : null;
        IEnumerator<PairBatch>? batches = null;
        var loop = new EpochLoop
        {
            Options = Options, OutputDirectory = OutputDirectory, Optimizers = _optimizers, InitialRates = _initialRates, Modules = Modules,
            ValidationNames = _validation.Select(v => Path.GetFileNameWithoutExtension(v.Source)),
            Steps = _source.BatchesPerEpoch,
            SaveWeights = path => XcosCheckpoint.Save(Model, path),
            BeginEpoch = (epoch, start) =>
            {
                Model.train(); Head.train();
                // Not the token: the loop checks it between batches and ends the epoch with a checkpoint; the loader would throw.
                return batches = _source.Epoch(epoch).Read(start, CancellationToken.None).GetEnumerator();
            },
            EndEpoch = result =>
            {
                board?.Epoch(result);
                board?.Figure(Model, Device, result.Epoch);
            },
        };
        return loop.Run(_state, (epoch, step, global, lastGood) =>
        {
            if (!batches!.MoveNext()) throw new InvalidOperationException($"The batch loader of epoch {epoch + 1} ended at step {step}; {_source.BatchesPerEpoch} were expected.");
            var batch = batches.Current;
            var (loss, ce, mse) = Step(batch, epoch + 1, global, lastGood);
            board?.Step(global + 1, loss);
            return new StepLosses(loss, ce, mse, batch.Count);
        }, epoch => Validate(epoch, progress, cancellationToken), progress, cancellationToken);
    }

    /// <summary>The batch source (tests take a fixed batch from it).</summary>
    internal PairBatchSource Source => _source;

    /// <summary>One optimisation step on <paramref name="batch"/> (train mode); returns the losses before the update.</summary>
    internal (double Loss, double Ce, double Mse) TrainStep(PairBatch batch)
    {
        Model.train(); Head.train();
        return Step(batch, _state.Value.CompletedEpochs + 1, _state.Value.GlobalStep, null);
    }

    private (double Loss, double Ce, double Mse) Step(PairBatch batch, int epoch, long global, string? lastGood)
    {
        using var scope = NewDisposeScope();
        var x1 = batch.Tensor1(Device);
        var x2 = batch.Tensor2(Device);
        var y1 = batch.LabelTensor1(Device);
        var y2 = batch.LabelTensor2(Device);
        var o = Model.Forward(x1, x2);
        var ce = nn.functional.cross_entropy(Head.call(o.Flat1, y1), y1) + nn.functional.cross_entropy(Head.call(o.Flat2, y2), y2);
        // without a teacher: the backbone's own flattened-grid cosine, as a fixed target for the xCos branch
        var target = o.TargetCos ?? (o.Flat1 * o.Flat2).sum(1).detach();
        var mse = nn.functional.mse_loss(o.Xcos, target);
        var loss = ce * Options.ClassificationWeight + mse * Options.XcosWeight;
        if (Options.LossHook is not null) loss = Options.LossHook(global, loss);
        double lv = loss.item<float>();
        if (!double.IsFinite(lv)) throw new TrainingDivergedException(epoch, global + 1, lv, lastGood);
        foreach (var opt in _optimizers.Values) opt.zero_grad();
        loss.backward();
        foreach (var opt in _optimizers.Values) opt.step();
        return (lv, ce.item<float>(), mse.item<float>());
    }

    /// <summary>Scores every validation pair set with the current weights (eval mode): xCos and the flattened-grid cosine.</summary>
    public IReadOnlyList<ValidationResult> Validate(int epoch = 0, IProgress<TrainProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var results = new List<ValidationResult>();
        if (_validation.Length == 0) return results;
        Model.eval();
        try
        {
            foreach (var set in _validation)
            {
                using var embedded = EmbeddedPairSet.Compute(set, _loader, Options.EvaluationBatchSize, Device, x =>
                {
                    var g = Model.Backbone.Grid(x);
                    return [g.Grid, Model.AttentionNet.Embed(g.Grid), g.Flat];
                }, (d, n) => progress?.Report(new TrainProgress(TrainPhase.Validating, epoch, Options.Epochs, d, n, _state.Value.GlobalStep, double.NaN, double.NaN)),
                cancellationToken);
                results.Add(embedded.Evaluate(Device, (a, b) =>
                {
                    var s = Model.Score(a[0], a[1], b[0], b[1]);
                    return (s.Xcos, (a[2] * b[2]).sum(1));
                }, Options.ValidationFolds));
            }
        }
        finally { Model.train(); }
        return results;
    }

    internal static void CopyAtomic(string from, string to)
    {
        var temp = Path.Combine(Path.GetDirectoryName(to)!, $".{Path.GetFileName(to)}.{Guid.NewGuid():N}.tmp");
        File.Copy(from, temp);
        File.Move(temp, to, overwrite: true);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var opt in _optimizers.Values) opt.Dispose();
        Head.Dispose();
        Model.Dispose();
    }
}
