using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Data;
using Xcos.ML.Explain;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.FaceModels;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Training;

/// <summary>Aligned faces of labelled people, in memory.</summary>
/// <param name="Faces">Aligned faces (112x112).</param>
/// <param name="Labels">Person index of each face.</param>
/// <param name="People">Person names, by index.</param>
public sealed record LabelledFaces(IReadOnlyList<RgbImage> Faces, IReadOnlyList<int> Labels, IReadOnlyList<string> People)
{
    /// <summary>Reads an image folder (one subfolder per person) of aligned crops; <paramref name="people"/> keeps only those (null: all).</summary>
    /// <exception cref="InvalidDataException">An image cannot be read or is not 112x112 (the message names it).</exception>
    /// <exception cref="ArgumentException">A person asked for is not in the folder.</exception>
    public static LabelledFaces FromFolder(ImageFolder folder, IReadOnlyCollection<string>? people = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var keep = people ?? folder.Identities;
        var missing = keep.Where(p => !folder.Identities.Contains(p)).ToList();
        if (missing.Count > 0) throw new ArgumentException($"{folder.Root}: no folder for {string.Join(", ", missing)}");
        var names = folder.Identities.Where(keep.Contains).ToList();
        var faces = new List<RgbImage>();
        var labels = new List<int>();
        foreach (var s in folder.Samples)
        {
            int k = names.IndexOf(folder.Identities[s.Label]);
            if (k < 0) continue;
            var img = ImageIO.Load(s.Path);
            if (img.Width != 112 || img.Height != 112) throw new InvalidDataException($"{s.Path}: {img.Width}x{img.Height}; an aligned 112x112 face was expected");
            faces.Add(img);
            labels.Add(k);
        }
        return new LabelledFaces(faces, labels, names);
    }
}

/// <summary>
/// Occlusion-mode training (<see cref="TrainingMode.Occlusion"/>): the two-branch model. A frozen MobileFaceNet read
/// from an ONNX face model (<see cref="OnnxMobileFaceNetImport"/>) runs the prefix and its original tail, whose
/// embedding stays the model's; a copy of the tail from <see cref="XcosTrainerOptions.FineTuneFrom"/> on is trained
/// with the grid layer and attention (<see cref="XcosTailNet"/>). Every step draws a fresh occluder per image
/// (<see cref="FaceOccluders"/>: none, mask, sunglasses, block) and minimises
/// <c>DistillationWeight * mean(1 - cos(tail embedding(occluded), frozen embedding(clean)))
/// + XcosWeight * MSE(xCos(occluded pair), frozen cosine(clean pair))
/// + VerificationWeight * BCE(VerificationScale * (xCos - VerificationThreshold), same)</c>.
/// The frozen clean embeddings are computed once. After every epoch the settings people's occluded pairs are scored
/// (xCos against the frozen cosine, per occluder); the best epoch has the highest mean xCos AUC over the occluders.
/// Shares the epoch loop, checkpoints and log of the other trainers (<see cref="EpochLoop"/>).
/// </summary>
public sealed class OcclusionXcosTrainer : IDisposable
{
    private readonly LabelledFaces _train;
    private readonly OccludedPairSet? _settings;
    private readonly MobileFaceNet _teacher;
    private readonly Dictionary<string, OptimizerHelper> _optimizers;
    private readonly Dictionary<string, double> _initialRates;
    private readonly FaceTensorOptions _tensor;
    private readonly Dictionary<(string, FaceOccluder), float[]> _cosines = [];
    private Tensor? _clean;
    private readonly Ref<TrainingState> _state;

    /// <summary>Loads the frozen model twice (teacher and the branch to train) and builds the optimisers.</summary>
    /// <param name="options">Mode Occlusion; TargetCheckpoint is the ONNX face model.</param>
    /// <param name="tensor">The model's input normalisation (its descriptor's <c>TensorOptions()</c>).</param>
    /// <param name="train">Faces of the people to fit.</param>
    /// <param name="settings">Occluded pairs of the people that choose settings (scored after every epoch), or null.</param>
    /// <param name="outputDirectory">Run folder (checkpoints, log).</param>
    public OcclusionXcosTrainer(XcosTrainerOptions options, FaceTensorOptions tensor, LabelledFaces train, OccludedPairSet? settings, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Mode != TrainingMode.Occlusion) throw new ArgumentException("OcclusionXcosTrainer trains Mode = Occlusion.", nameof(options));
        Options = options;
        _tensor = tensor ?? throw new ArgumentNullException(nameof(tensor));
        _train = train ?? throw new ArgumentNullException(nameof(train));
        if (train.People.Count < 2 || train.Faces.Count < 4) throw new ArgumentException($"occlusion training needs at least 2 people and 4 faces, got {train.People.Count} and {train.Faces.Count}", nameof(train));
        _settings = settings;
        OutputDirectory = Path.GetFullPath(outputDirectory);
        Directory.CreateDirectory(OutputDirectory);
        Device = TorchRuntime.Configure(options.Threads, options.Device);
        torch.manual_seed(options.Seed);
        string onnx = options.TargetCheckpoint!;
        _teacher = new MobileFaceNet();
        OnnxMobileFaceNetImport.Load(_teacher, onnx);
        _teacher.eval();
        foreach (var p in _teacher.parameters()) p.requires_grad = false;
        Net = new XcosTailNet(options.FineTuneFrom, options.GridChannels, options.Temperature, options.HeadForm, options.AttentionStartScale);
        OnnxMobileFaceNetImport.Load(Net.Backbone, onnx);
        var tail = Net.TailParameters().ToHashSet();
        foreach (var p in Net.Backbone.parameters()) p.requires_grad = tail.Contains(p);
        _teacher.to(Device);
        Net.to(Device);
        _optimizers = new()
        {
            ["backbone"] = TrainerSupport.CreateOptimizer(Net.TailParameters(), options.Backbone),
            ["grid"] = TrainerSupport.CreateOptimizer(Net.Head.named_parameters().Where(p => p.name.StartsWith("conv1x1.", StringComparison.Ordinal)).Select(p => p.parameter), options.GridLayer),
            ["attention"] = TrainerSupport.CreateOptimizer(Net.Head.Attention.parameters(), options.Attention),
        };
        _initialRates = new() { ["backbone"] = options.Backbone.LearningRate, ["grid"] = options.GridLayer.LearningRate, ["attention"] = options.Attention.LearningRate };
        _state = new Ref<TrainingState>(new TrainingState { Mode = TrainingMode.Occlusion, Identities = train.People.ToArray() });
    }

    /// <summary>The recipe.</summary>
    public XcosTrainerOptions Options { get; }
    /// <summary>The trained branch.</summary>
    public XcosTailNet Net { get; }
    /// <summary>Compute device.</summary>
    public Device Device { get; }
    /// <summary>Run folder.</summary>
    public string OutputDirectory { get; }
    /// <summary>Position of the run.</summary>
    public TrainingState State => _state.Value;
    /// <summary>Pairs per epoch: Options.PairsPerEpoch, or one per training face.</summary>
    public int PairsPerEpoch => Options.PairsPerEpoch > 0 ? Options.PairsPerEpoch : _train.Faces.Count;
    /// <summary>Steps per epoch.</summary>
    public int StepsPerEpoch => Math.Max(1, PairsPerEpoch / Options.BatchSize);

    private IReadOnlyDictionary<string, nn.Module> Modules => new Dictionary<string, nn.Module> { ["model"] = Net };

    /// <summary>Restores an occlusion-mode checkpoint.</summary>
    public void Resume(string checkpoint)
    {
        var state = TrainingCheckpoint.ReadState(checkpoint);
        if (state.Mode != TrainingMode.Occlusion) throw new CheckpointException(checkpoint, $"is a {state.Mode}-mode checkpoint; this trainer is occlusion mode.");
        _state.Value = TrainingCheckpoint.Load(checkpoint, Modules, _optimizers);
    }

    private Tensor Batch(IReadOnlyList<RgbImage> faces)
    {
        int per = 3 * 112 * 112;
        var data = new float[faces.Count * per];
        for (int i = 0; i < faces.Count; i++) FaceTensor.ToChw(faces[i], data.AsSpan(i * per, per), _tensor);
        return tensor(data, [faces.Count, 3, 112, 112]).to(Device);
    }

    /// <summary>The frozen model's L2-normalised embeddings (the original model's).</summary>
    public Tensor TeacherEmbeddings(IReadOnlyList<RgbImage> faces, Action<int, int>? progress = null)
    {
        var parts = new List<Tensor>();
        using var noGrad = no_grad();
        for (int s = 0; s < faces.Count; s += Options.EvaluationBatchSize)
        {
            using var scope = NewDisposeScope();
            var x = Batch(faces.Skip(s).Take(Options.EvaluationBatchSize).ToList());
            parts.Add(_teacher.Embed(x).MoveToOuterDisposeScope());
            progress?.Invoke(Math.Min(faces.Count, s + Options.EvaluationBatchSize), faces.Count);
        }
        var all = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    /// <summary>Maps of the trained branch (eval mode) and, when asked, the frozen embeddings of <paramref name="faces"/>.</summary>
    private (Tensor Map, Tensor? Embedding) Encode(IReadOnlyList<RgbImage> faces, bool teacher)
    {
        var grids = new List<Tensor>();
        var embs = new List<Tensor>();
        using var noGrad = no_grad();
        for (int s = 0; s < faces.Count; s += Options.EvaluationBatchSize)
        {
            using var scope = NewDisposeScope();
            var x = Batch(faces.Skip(s).Take(Options.EvaluationBatchSize).ToList());
            var h = _teacher.Prefix(x, Net.From);
            if (teacher) embs.Add(FaceBackbone.L2Normalize(_teacher.EmbeddingHead(_teacher.Tail(h, Net.From))).MoveToOuterDisposeScope());
            grids.Add(Net.Map(h).MoveToOuterDisposeScope());
        }
        var g = cat(grids, 0);
        var e = teacher ? cat(embs, 0) : null;
        foreach (var t in grids.Concat(embs)) t.Dispose();
        return (g, e);
    }

    /// <summary>
    /// Scores <paramref name="set"/> per occluder: learned xCos of the trained branch against the original model's
    /// cosine (face 1 clean, face 2 occluded), AUC and 10-fold accuracy of each (names "SET-OCCLUDER"). The original
    /// model's cosines are computed once per set. <paramref name="scores"/> and <paramref name="cosines"/>, when given, receive the xCos and the original cosine of every pair;
    /// <paramref name="agreements"/> the two faces' branch agreement (<see cref="Xcos.ML.Heads.CosineGate"/>: the trained branch's plain embedding against the original's).
    /// </summary>
    public IReadOnlyList<ValidationResult> Evaluate(OccludedPairSet set, Action<int, int>? progress = null, IDictionary<FaceOccluder, float[]>? scores = null,
        IDictionary<FaceOccluder, float[]>? cosines = null, IDictionary<FaceOccluder, (float[] First, float[] Second)>? agreements = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        bool wasTraining = Net.training;
        Net.eval();
        try
        {
            var results = new List<ValidationResult>();
            var same = set.Same;
            // only the faces that are face 1 of some pair
            var firsts = set.Pairs.Select(p => p.A).Distinct().Order().ToArray();
            var row = firsts.Select((f, i) => (f, i)).ToDictionary(x => x.f, x => (long)x.i);
            bool needCos = agreements is not null || FaceOccluders.All.Any(k => !_cosines.ContainsKey((set.Name, k)));
            int total = firsts.Length + set.Pairs.Count * FaceOccluders.All.Count, done = 0;
            var (g1All, e1All) = Encode(firsts.Select(i => set.Faces[i]).ToList(), needCos);
            var a1All = agreements is null ? null : Agreement(g1All, e1All!);
            done += firsts.Length;
            progress?.Invoke(done, total);
            using (g1All) using (e1All)
            {
                using var ia = tensor(set.Pairs.Select(p => row[p.A]).ToArray()).to(Device);
                foreach (var kind in FaceOccluders.All)
                {
                    bool cached = agreements is null && _cosines.ContainsKey((set.Name, kind));
                    var (g2, e2) = Encode(set.Second[kind], !cached);
                    if (agreements is not null) agreements[kind] = ([.. set.Pairs.Select(p => a1All![row[p.A]])], Agreement(g2, e2!));
                    using (g2) using (e2)
                    using (var scope = NewDisposeScope())
                    using (no_grad())
                    {
                        var g1 = g1All.index_select(0, ia);
                        var x = new List<float>();
                        for (long s = 0; s < g1.shape[0]; s += 256)
                        {
                            long n = Math.Min(256, g1.shape[0] - s);
                            x.AddRange(Net.Score(g1.narrow(0, s, n), g2.narrow(0, s, n)).Xcos.cpu().data<float>().ToArray());
                        }
                        if (!cached) _cosines[(set.Name, kind)] = (e1All!.index_select(0, ia) * e2!).sum(1).cpu().data<float>().ToArray();
                        var c = _cosines[(set.Name, kind)];
                        if (scores is not null) scores[kind] = x.ToArray();
                        if (cosines is not null) cosines[kind] = c;
                        var opts = new VerificationOptions { Folds = Options.ValidationFolds };
                        results.Add(new ValidationResult($"{set.Name}-{FaceOccluders.Name(kind)}", same.Length, 0, 0,
                            VerificationMetrics.Evaluate(x.ToArray(), same, opts), VerificationMetrics.Evaluate(c, same, opts), []));
                    }
                    done += set.Pairs.Count;
                    progress?.Invoke(done, total);
                }
            }
            return results;
        }
        finally { if (wasTraining) Net.train(); }
    }

    // Per face: cosine of the trained branch's plain embedding (its map through the embedding head, every cell alike)
    // and the original model's (normalised) embedding of the same image.
    private float[] Agreement(Tensor maps, Tensor original)
    {
        var result = new List<float>();
        using var noGrad = no_grad();
        for (long s = 0; s < maps.shape[0]; s += 256)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(256, maps.shape[0] - s);
            var e = FaceBackbone.L2Normalize(Net.Backbone.EmbeddingHead(maps.narrow(0, s, n)));
            result.AddRange((e * original.narrow(0, s, n)).sum(1).cpu().data<float>().ToArray());
        }
        return [.. result];
    }

    /// <summary>Computes the frozen clean embeddings of the training faces once.</summary>
    public void BuildCache(IProgress<TrainProgress>? progress = null) =>
        _clean ??= TeacherEmbeddings(_train.Faces, (d, n) => progress?.Report(new TrainProgress(TrainPhase.Caching, 0, Options.Epochs, d, n, State.GlobalStep, double.NaN, double.NaN)));

    private (int A, int B, bool Same)[] EpochPairs(int epoch)
    {
        var sampler = new PairSampler(_train.Labels, new PairSamplerOptions { Seed = PairBatchSource.SeedFor(Options.Seed, epoch, 0) });
        var r = new Random(PairBatchSource.SeedFor(Options.Seed, epoch, 1));
        var pairs = new (int, int, bool)[PairsPerEpoch];
        for (int i = 0; i < pairs.Length; i++)
        {
            var p = sampler.Sample(r.Next(_train.Faces.Count));
            pairs[i] = (p.First, p.Second, p.Same);
        }
        return pairs;
    }

    private FaceOccluder Draw(Random r)
    {
        if (r.NextDouble() < Options.CleanShare) return FaceOccluder.None;
        return (FaceOccluder)(1 + r.Next(3));
    }

    /// <summary>Trains until the configured epochs are done or cancellation (Ctrl-C keeps the checkpoint of the last step and the best epoch).</summary>
    public TrainingResult Train(IProgress<TrainProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var o = Options;
        BuildCache(progress);
        (int A, int B, bool Same)[] pairs = [];
        var loop = new EpochLoop
        {
            Options = o, OutputDirectory = OutputDirectory, Optimizers = _optimizers, InitialRates = _initialRates, Modules = Modules,
            ValidationNames = _settings is null ? [] : FaceOccluders.All.Select(k => $"{_settings.Name}-{FaceOccluders.Name(k)}"),
            Steps = StepsPerEpoch,
            SaveWeights = path => XcosCheckpoint.Save(Net, path),
            Metric = (loss, v) => v.Count > 0 ? v.Average(r => r.Xcos.Auc) : -loss,
            BeginEpoch = (epoch, _) => { pairs = EpochPairs(epoch); return null; },
        };
        Net.train();
        Net.Backbone.eval(); // identity batch norms: the folded model has no batch statistics to learn
        return loop.Run(_state, (epoch, step, global, lastGood) => Step(pairs, epoch, step, global, lastGood),
            epoch => _settings is null ? [] : Evaluate(_settings, (d, n) => progress?.Report(new TrainProgress(TrainPhase.Validating, epoch, o.Epochs, d, n, State.GlobalStep, double.NaN, double.NaN))),
            progress, cancellationToken);
    }

    private StepLosses Step((int A, int B, bool Same)[] pairs, int epoch, int step, long global, string? lastGood)
    {
        var o = Options;
        int start = step * o.BatchSize, b = Math.Min(o.BatchSize, pairs.Length - start);
        // occluders drawn now, from a generator of (seed, epoch, step): fresh every step, the same after a resume
        var r = new Random(PairBatchSource.SeedFor(o.Seed, epoch, 10_000 + step));
        var faces = new RgbImage[2 * b];
        var index = new long[2 * b];
        var sameFlags = new float[b];
        for (int k = 0; k < b; k++)
        {
            var (a, c, s) = pairs[start + k];
            faces[k] = FaceOccluders.Apply(_train.Faces[a], Draw(r), r);
            faces[b + k] = FaceOccluders.Apply(_train.Faces[c], Draw(r), r);
            index[k] = a;
            index[b + k] = c;
            sameFlags[k] = s ? 1 : 0;
        }
        Net.train();
        Net.Backbone.eval();
        using var scope = NewDisposeScope();
        var x = Batch(faces);
        Tensor h;
        using (no_grad()) h = _teacher.Prefix(x, Net.From);
        var map = Net.Map(h);
        var t = _clean!.index_select(0, tensor(index).to(Device));
        Tensor xcos, target, same;
        if (o.AllPairs && Net.Form == XcosHeadForm.Anchored)
        {
            // every first-half face against every second-half face: b*b pairs, impostors of all the batch's people
            xcos = Net.ScoreMatrix(map.narrow(0, 0, b), map.narrow(0, b, b)).flatten();
            target = t.narrow(0, 0, b).matmul(t.narrow(0, b, b).t()).flatten();
            var people = index.Select(i => (long)_train.Labels[(int)i]).ToArray();
            var who = tensor(people).to(Device);
            same = who.narrow(0, 0, b).unsqueeze(1).eq(who.narrow(0, b, b).unsqueeze(0)).flatten().to_type(ScalarType.Float32);
        }
        else
        {
            xcos = Net.Score(map.narrow(0, 0, b), map.narrow(0, b, b)).Xcos;
            target = (t.narrow(0, 0, b) * t.narrow(0, b, b)).sum(1);
            same = tensor(sameFlags).to(Device);
        }
        var mse = nn.functional.mse_loss(xcos, target);
        var loss = mse * o.XcosWeight;
        Tensor? distill = null, verify = null;
        if (o.DistillationWeight > 0)
        {
            var e = FaceBackbone.L2Normalize(Net.Backbone.EmbeddingHead(map));
            distill = (1 - (e * t).sum(1)).mean();
            loss = loss + distill * o.DistillationWeight;
        }
        if (o.VerificationWeight > 0)
        {
            var logits = (xcos - o.VerificationThreshold) * o.VerificationScale;
            // same and different pairs weigh half each: in the all-pairs matrix most pairs are impostors
            var bce = nn.functional.binary_cross_entropy_with_logits(logits, same, reduction: nn.Reduction.None);
            var different = 1 - same;
            verify = (bce * same).sum() / same.sum().clamp_min(1) * 0.5 + (bce * different).sum() / different.sum().clamp_min(1) * 0.5;
            loss = loss + verify * o.VerificationWeight;
        }
        Tensor? rank = null;
        if (o.RankWeight > 0 && o.AllPairs && Net.Form == XcosHeadForm.Anchored)
        {
            // 1:N in miniature: each first-half face against the whole second half, the mass of the softmax on its own person
            var logits = (xcos * o.VerificationScale).reshape(b, b);
            var positive = same.reshape(b, b);
            var rows = positive.sum(1).gt(0);
            var own = (logits.log_softmax(1) + (positive + 1e-12).log()).logsumexp(1);
            rank = -(own * rows).sum() / rows.sum().clamp_min(1);
            loss = loss + rank * o.RankWeight;
        }
        if (o.LossHook is not null) loss = o.LossHook(global, loss);
        double lv = loss.item<float>();
        if (!double.IsFinite(lv)) throw new TrainingDivergedException(epoch + 1, global + 1, lv, lastGood);
        foreach (var opt in _optimizers.Values) opt.zero_grad();
        loss.backward();
        foreach (var opt in _optimizers.Values) opt.step();
        double other = (distill?.item<float>() ?? 0) * o.DistillationWeight + (verify?.item<float>() ?? 0) * o.VerificationWeight + (rank?.item<float>() ?? 0) * o.RankWeight;
        return new StepLosses(lv, other, mse.item<float>(), b);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _clean?.Dispose();
        foreach (var opt in _optimizers.Values) opt.Dispose();
        Net.Dispose();
        _teacher.Dispose();
    }
}
