using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Data;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// Head-only xCos training ("explain a frozen model"): the frozen model's feature maps and embeddings are computed
/// once (<see cref="FeatureMapCache"/>, flipped copies included for augmentation); only the grid layer and the
/// attention branch (<see cref="XcosGridHead"/>) learn, by MSE of xCos to the frozen embeddings' cosine. Identity
/// labels only steer pair sampling (half same, half different, as the original) and are not needed: with a single
/// folder, pairs are drawn uniformly. Writes the same files as <see cref="XcosTrainer"/>; the weights files hold
/// <c>backbone.conv1x1.*</c> and <c>attention.*</c> (see <see cref="ComposeModel"/>).
/// </summary>
public sealed class XcosHeadTrainer : IDisposable
{
    private readonly IFeatureMapSource _source;
    private readonly ImageFolder _train;
    private readonly PairSet[] _validation;
    private readonly FaceImageLoader _loader;
    private readonly Dictionary<string, OptimizerHelper> _optimizers;
    private readonly Dictionary<string, double> _initialRates;
    private readonly List<EmbeddedPairSet> _validationCache = [];
    private FeatureMapCache? _cache;
    private readonly Ref<TrainingState> _state;

    /// <summary>Creates the head and its optimisers; nothing is computed yet.</summary>
    public XcosHeadTrainer(XcosTrainerOptions options, IFeatureMapSource source, ImageFolder train, IReadOnlyList<PairSet>? validation, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        options.Validate();
        if (options.Mode != TrainingMode.Head) throw new ArgumentException("XcosHeadTrainer trains Mode = Head.", nameof(options));
        _source = source ?? throw new ArgumentNullException(nameof(source));
        _train = train ?? throw new ArgumentNullException(nameof(train));
        if (train.Count < 2) throw new ArgumentException($"{train.Root}: head training needs at least 2 images.", nameof(train));
        _validation = (validation ?? []).ToArray();
        OutputDirectory = Path.GetFullPath(outputDirectory);
        Directory.CreateDirectory(OutputDirectory);
        Device = TorchRuntime.Configure(options.Threads, options.Device);
        torch.manual_seed(options.Seed);
        Head = new XcosGridHead(source.Channels, options.GridChannels, options.Temperature);
        Head.to(Device);
        _optimizers = new()
        {
            ["grid"] = TrainerSupport.CreateOptimizer(Head.named_parameters().Where(p => p.name.StartsWith("conv1x1.", StringComparison.Ordinal)).Select(p => p.parameter), options.GridLayer),
            ["attention"] = TrainerSupport.CreateOptimizer(Head.Attention.parameters(), options.Attention),
        };
        _initialRates = new() { ["grid"] = options.GridLayer.LearningRate, ["attention"] = options.Attention.LearningRate };
        _loader = new FaceImageLoader(options.Preprocess);
        _state = new Ref<TrainingState>(new TrainingState { Mode = TrainingMode.Head, Identities = train.Identities.ToArray() });
    }

    /// <summary>The recipe in effect (optimizer, schedule, batch size, epochs).</summary>
    public XcosTrainerOptions Options { get; }
    /// <summary>The grid layer and attention being trained on the cached maps.</summary>
    public XcosGridHead Head { get; }
    /// <summary>Compute device of the head.</summary>
    public Device Device { get; }
    /// <summary>Folder of the checkpoints, log and options of this run.</summary>
    public string OutputDirectory { get; }
    /// <summary>Position of the run.</summary>
    public TrainingState State => _state.Value;
    /// <summary>The cached maps (null until <see cref="BuildCache"/> or <see cref="Train"/> ran).</summary>
    public FeatureMapCache? Cache => _cache;
    /// <summary>Pairs drawn per epoch: Options.PairsPerEpoch, or one per training image when 0.</summary>
    public int PairsPerEpoch => Options.PairsPerEpoch > 0 ? Options.PairsPerEpoch : _train.Count;
    /// <summary>Steps per epoch (a last batch below 2 pairs is dropped).</summary>
    public int StepsPerEpoch => PairsPerEpoch / Options.BatchSize + (PairsPerEpoch % Options.BatchSize >= 2 ? 1 : 0);

    /// <summary>Computes the frozen model's maps of the training images (and validation images) once.</summary>
    public FeatureMapCache BuildCache(IProgress<TrainProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        _cache ??= FeatureMapCache.Build(_source, _train.Samples.Select(s => s.Path).ToArray(), _loader, Options.CacheFlipped,
            Options.EvaluationBatchSize, (d, n) => progress?.Report(new TrainProgress(TrainPhase.Caching, 0, Options.Epochs, d, n, _state.Value.GlobalStep, double.NaN, double.NaN)),
            cancellationToken);
        if (_validationCache.Count == 0)
        {
            int f = _loader.Options.ImageFloats, c = _source.Channels, m = _source.MapSize, e = _source.EmbeddingSize;
            foreach (var set in _validation)
                _validationCache.Add(EmbeddedPairSet.Compute(set, _loader, Options.EvaluationBatchSize, CPU, x =>
                {
                    int n = (int)x.shape[0];
                    var maps = new float[n * c * m * m];
                    var embs = new float[n * e];
                    _source.Compute(x.contiguous().data<float>().ToArray(), n, maps, embs);
                    return [tensor(maps, [n, c, m, m]), tensor(embs, [n, e])];
                }, (d, n) => progress?.Report(new TrainProgress(TrainPhase.Caching, 0, Options.Epochs, d, n, _state.Value.GlobalStep, double.NaN, double.NaN)),
                cancellationToken));
        }
        return _cache;
    }

    /// <summary>Restores a head-mode checkpoint (weights, optimisers, generator, position).</summary>
    public void Resume(string checkpoint)
    {
        var state = TrainingCheckpoint.ReadState(checkpoint);
        if (state.Mode != TrainingMode.Head) throw new CheckpointException(checkpoint, $"is a {state.Mode}-mode checkpoint; this trainer is head mode.");
        _state.Value = TrainingCheckpoint.Load(checkpoint, Modules, _optimizers);
    }

    private IReadOnlyDictionary<string, nn.Module> Modules => new Dictionary<string, nn.Module> { ["head"] = Head };

    /// <summary>The pairs of an epoch: (image, variant) indices of both sides.</summary>
    internal (int I1, int V1, int I2, int V2)[] EpochPairs(int epoch)
    {
        int n = PairsPerEpoch, count = _train.Count;
        var pairs = new (int, int, int, int)[n];
        var labels = _train.Labels;
        bool sampler = _train.Identities.Count >= 2;
        var ps = sampler ? new PairSampler(labels, new PairSamplerOptions { Seed = PairBatchSource.SeedFor(Options.Seed, epoch, 0), AllowSelfPairs = true }) : null;
        var r = new Random(PairBatchSource.SeedFor(Options.Seed, epoch, 1));
        int variants = _cache?.Variants ?? (Options.CacheFlipped ? 2 : 1);
        int V() => variants == 2 && r.NextDouble() < Options.FlipProbability ? 1 : 0;
        for (int i = 0; i < n; i++)
        {
            int a = i % count, b;
            if (ps is not null) b = ps.Sample(a).Second;
            else { b = r.Next(count - 1); if (b >= a) b++; }
            pairs[i] = (a, V(), b, V());
        }
        r.Shuffle(pairs);
        return pairs;
    }

    /// <summary>Trains (after building the cache) until the configured epochs are done or cancellation.</summary>
    /// <exception cref="TrainingDivergedException">The loss became NaN/Inf.</exception>
    public TrainingResult Train(IProgress<TrainProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var o = Options;
        var cache = BuildCache(progress, cancellationToken);
        int mf = cache.MapFloats, ef = cache.EmbeddingSize;
        var shape = new long[] { 0, cache.Channels, cache.MapSize, cache.MapSize };
        (int I1, int V1, int I2, int V2)[] pairs = [];
        var loop = new EpochLoop
        {
            Options = o, OutputDirectory = OutputDirectory, Optimizers = _optimizers, InitialRates = _initialRates, Modules = Modules,
            ValidationNames = _validation.Select(v => Path.GetFileNameWithoutExtension(v.Source)),
            Steps = StepsPerEpoch,
            SaveWeights = path => XcosCheckpoint.SaveStateDict(Head.XcosStateDict(), path),
            HasClassificationLoss = false,
            BeginEpoch = (epoch, _) =>
            {
                pairs = EpochPairs(epoch);
                Head.train();
                return null;
            },
        };
        return loop.Run(_state, (epoch, step, global, lastGood) =>
        {
            int start = step * o.BatchSize, b = Math.Min(o.BatchSize, pairs.Length - start);
            var m1 = new float[b * mf]; var m2 = new float[b * mf];
            var e1 = new float[b * ef]; var e2 = new float[b * ef];
            for (int k = 0; k < b; k++)
            {
                var (i1, v1, i2, v2) = pairs[start + k];
                cache.Map(i1, v1).CopyTo(m1.AsSpan(k * mf)); cache.Map(i2, v2).CopyTo(m2.AsSpan(k * mf));
                cache.Embedding(i1, v1).CopyTo(e1.AsSpan(k * ef)); cache.Embedding(i2, v2).CopyTo(e2.AsSpan(k * ef));
            }
            shape[0] = b;
            using var scope = NewDisposeScope();
            var s = Head.call(tensor(m1, shape).to(Device), tensor(m2, shape).to(Device));
            var target = (tensor(e1, [b, ef]) * tensor(e2, [b, ef])).sum(1).to(Device);
            var loss = nn.functional.mse_loss(s.Xcos, target) * o.XcosWeight;
            if (o.LossHook is not null) loss = o.LossHook(global, loss);
            double lv = loss.item<float>();
            if (!double.IsFinite(lv)) throw new TrainingDivergedException(epoch + 1, global + 1, lv, lastGood);
            foreach (var opt in _optimizers.Values) opt.zero_grad();
            loss.backward();
            foreach (var opt in _optimizers.Values) opt.step();
            return new StepLosses(lv, 0, lv, b);
        }, _ => Validate(), progress, cancellationToken);
    }

    /// <summary>Scores the validation sets: xCos of the head, and the frozen model's embedding cosine.</summary>
    public IReadOnlyList<ValidationResult> Validate()
    {
        var results = new List<ValidationResult>();
        if (_validation.Length > 0 && _validationCache.Count == 0) BuildCache();
        Head.eval();
        try
        {
            foreach (var v in _validationCache)
                results.Add(v.Evaluate(Device, (a, b) => (Head.call(a[0], b[0]).Xcos, (a[1] * b[1]).sum(1)), Options.ValidationFolds));
        }
        finally { Head.train(); }
        return results;
    }

    /// <summary>
    /// Builds a complete <see cref="XcosModel"/> from the frozen model's checkpoint (trunk of the grid backbone and
    /// <c>backbone_target</c>) and head weights written by this trainer (<c>backbone.conv1x1.*</c>, <c>attention.*</c>).
    /// </summary>
    public static XcosModel ComposeModel(XcosTrainerOptions options, string headWeights)
    {
        var stages = options.TargetStages ?? (BackboneFactory.Parse(options.TargetArch).Kind == "mobilefacenet" ? null : BackboneFactory.StagesFor(options.TargetDepth));
        var model = new XcosModel(new XcosModelOptions
        {
            Arch = options.TargetArch, Stages = stages, GridChannels = options.GridChannels, Temperature = options.Temperature,
            TargetArch = options.TargetArch, TargetStages = stages,
        });
        TrainerSupport.LoadTarget(model.BackboneTarget!, options.TargetCheckpoint ?? throw new ArgumentException("options.TargetCheckpoint is required.", nameof(options)));
        var sd = model.BackboneTarget!.state_dict().ToDictionary(kv => "backbone." + kv.Key, kv => kv.Value);
        XcosCheckpoint.Load(model, sd, new CheckpointLoadOptions { Strict = false });
        XcosCheckpoint.Load(model, headWeights, new CheckpointLoadOptions { Strict = false });
        return model;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var v in _validationCache) v.Dispose();
        foreach (var opt in _optimizers.Values) opt.Dispose();
        Head.Dispose();
    }
}
