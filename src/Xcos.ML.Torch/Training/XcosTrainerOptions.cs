using System.Text.Json;
using System.Text.Json.Serialization;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Networks;

namespace Xcos.ML.Torch.Training;

/// <summary>What <see cref="XcosTrainer"/> / <see cref="XcosHeadTrainer"/> train.</summary>
public enum TrainingMode
{
    /// <summary>Grid backbone + margin head + attention, from identity-labelled images (the xCos training).</summary>
    Full,
    /// <summary>Frozen backbone; only the grid layer and the attention branch learn ("explain a frozen model").</summary>
    Head,
    /// <summary>
    /// A real face model (ONNX, MobileFaceNet) fine-tuned from <see cref="XcosTrainerOptions.FineTuneFrom"/> on,
    /// together with the grid layer and attention, with occluders drawn each step (<see cref="OcclusionXcosTrainer"/>).
    /// </summary>
    Occlusion,
}

/// <summary>Classification head of full training.</summary>
public enum MarginHeadKind
{
    /// <summary>ArcFace, additive angular margin (s 64, m 0.5 by default).</summary>
    ArcFace,
    /// <summary>CosFace, additive cosine margin (s 30, m 0.35 by default).</summary>
    CosFace,
}

/// <summary>Optimiser algorithm of one parameter group.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum and weight decay.</summary>
    Sgd,
    /// <summary>Adam (optionally AMSGrad).</summary>
    Adam,
}

/// <summary>Optimiser of one module.</summary>
public sealed record OptimizerSettings
{
    /// <summary>Optimizer algorithm. Default SGD, with <see cref="Momentum"/> and <see cref="WeightDecay"/>.</summary>
    public OptimizerKind Kind { get; init; } = OptimizerKind.Sgd;
    /// <summary>Initial learning rate. Default 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>SGD momentum. Default 0.9.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>L2 weight decay. Default 4e-5.</summary>
    public double WeightDecay { get; init; } = 4e-5;
    /// <summary>Adam: use AMSGrad. Default true.</summary>
    public bool Amsgrad { get; init; } = true;
    /// <summary>Adam beta1. Default 0.9.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Adam beta2. Default 0.999 (PyTorch's default).</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Adam epsilon. Default 1e-8.</summary>
    public double Epsilon { get; init; } = 1e-8;
}

/// <summary>
/// Everything a training run needs besides the data. Defaults are the original xCos recipe: IR-SE-50 grid backbone
/// (32-channel grid), ArcFace head, backbone SGD lr 1e-3 momentum 0.9 wd 4e-5, head SGD lr 1e-3 momentum 0.9
/// wd 4e-4, attention Adam (AMSGrad) lr 1e-4 wd 4e-5, StepLR(step 8 epochs, gamma 0.99). Load and save as JSON
/// (<see cref="LoadJson(string)"/>); property names are case-insensitive, enums are strings.
/// </summary>
public sealed record XcosTrainerOptions
{
    /// <summary>Full xCos training or head-only. Default full.</summary>
    public TrainingMode Mode { get; init; } = TrainingMode.Full;

    /// <summary>Grid backbone: "ir", "ir_se", "mobilefacenet". Default "ir_se". Full mode only.</summary>
    public string Arch { get; init; } = "ir_se";

    /// <summary>Preset depth (18, 34, 50, 100, 152). Default 50.</summary>
    public int Depth { get; init; } = 50;

    /// <summary>Explicit stage table (wins over <see cref="Depth"/>), e.g. [1,1,1,1] for a tiny net. Default null.</summary>
    public int[]? Stages { get; init; }

    /// <summary>Grid cell channels. Default 32.</summary>
    public int GridChannels { get; init; } = 32;

    /// <summary>Full mode: side of the xCos grid, 1..7 (<see cref="XcosModelOptions.GridSize"/>). Default 7.</summary>
    public int GridSize { get; init; } = FaceBackbone.MapSize;

    /// <summary>Attention softmax temperature. Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>
    /// Checkpoint of the frozen target (teacher) backbone: an xCos checkpoint (its <c>backbone_target.*</c> keys are
    /// used) or a plain backbone state dict (InsightFace IR-SE-50). Full mode: the xCos branch regresses its cosine.
    /// Head mode: the frozen model to explain (required there). Default null: full mode then regresses the current
    /// backbone's own flattened-grid cosine, detached (a self-distillation stand-in; the paper always has a teacher).
    /// </summary>
    public string? TargetCheckpoint { get; init; }

    /// <summary>Architecture of the target / frozen backbone. Default "ir_se".</summary>
    public string TargetArch { get; init; } = "ir_se";

    /// <summary>Preset depth of the target backbone. Default 50.</summary>
    public int TargetDepth { get; init; } = 50;

    /// <summary>Explicit stage table of the target backbone. Default null (use <see cref="TargetDepth"/>).</summary>
    public int[]? TargetStages { get; init; }

    /// <summary>Classification head. Default ArcFace.</summary>
    public MarginHeadKind MarginHead { get; init; } = MarginHeadKind.ArcFace;

    /// <summary>Logit scale; null (default) uses the head's own (64 ArcFace, 30 CosFace).</summary>
    public double? MarginScale { get; init; }

    /// <summary>Margin; null (default) uses the head's own (0.5 ArcFace, 0.35 CosFace).</summary>
    public double? Margin { get; init; }

    /// <summary>Weight of the cross-entropy (sum over both images of a pair). Default 1.</summary>
    public double ClassificationWeight { get; init; } = 1.0;

    /// <summary>Weight of the MSE between xCos and the target cosine. Default 1.</summary>
    public double XcosWeight { get; init; } = 1.0;

    /// <summary>Epochs to train (total, including resumed ones). Default 20.</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>Pairs per batch. Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Seed of weights initialisation, pair sampling, shuffling and augmentation. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Intra-op threads (null or 0: all cores). Default null.</summary>
    public int? Threads { get; init; }

    /// <summary>Compute device: "cpu", "cuda", "cuda:N", "auto". Default "cpu".</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Image preprocessing (size, normalisation, channel order, size mismatch, aligner seam).</summary>
    public FacePreprocessOptions Preprocess { get; init; } = new();

    /// <summary>Probability of a horizontal flip of each training image. Default 0.5.</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>Decoded batches prepared ahead of the training step. Default 2.</summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>Threads decoding one batch. Default 1.</summary>
    public int DecodeThreads { get; init; } = 1;

    /// <summary>Backbone optimiser (full mode). Default SGD lr 1e-3, momentum 0.9, wd 4e-5.</summary>
    public OptimizerSettings Backbone { get; init; } = new() { Kind = OptimizerKind.Sgd, LearningRate = 1e-3, Momentum = 0.9, WeightDecay = 4e-5 };

    /// <summary>Margin-head optimiser (full mode). Default SGD lr 1e-3, momentum 0.9, wd 4e-4.</summary>
    public OptimizerSettings Head { get; init; } = new() { Kind = OptimizerKind.Sgd, LearningRate = 1e-3, Momentum = 0.9, WeightDecay = 4e-4 };

    /// <summary>Attention-branch optimiser. Default Adam (AMSGrad) lr 1e-4, wd 4e-5.</summary>
    public OptimizerSettings Attention { get; init; } = new() { Kind = OptimizerKind.Adam, LearningRate = 1e-4, WeightDecay = 4e-5, Amsgrad = true };

    /// <summary>Grid-layer optimiser in head mode (in full mode the grid layer is part of the backbone).
    /// Default Adam (AMSGrad) lr 1e-3, wd 4e-5: head-only runs are short.</summary>
    public OptimizerSettings GridLayer { get; init; } = new() { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 4e-5, Amsgrad = true };

    /// <summary>StepLR period in epochs: every group's rate is multiplied by <see cref="LrGamma"/> every this many epochs. Default 8.</summary>
    public int LrStepSize { get; init; } = 8;

    /// <summary>StepLR factor. Default 0.99.</summary>
    public double LrGamma { get; init; } = 0.99;

    /// <summary>Head mode: also cache the mirrored image's maps, used as flip augmentation. Default true.</summary>
    public bool CacheFlipped { get; init; } = true;

    /// <summary>Head mode: pairs per epoch; 0 (default) = one per training image.</summary>
    public int PairsPerEpoch { get; init; }

    /// <summary>Full mode: write TensorBoard event files to OUT/runs (losses, learning rates, validation, an explanation
    /// figure per epoch). Default true.</summary>
    public bool TensorBoard { get; init; } = true;

    /// <summary>Number of folds of the validation protocol. Default 10.</summary>
    public int ValidationFolds { get; init; } = 10;

    /// <summary>Images per forward pass during validation and caching. Default 64.</summary>
    public int EvaluationBatchSize { get; init; } = 64;

    /// <summary>Test seam: replaces the loss of a step (arguments: global step, loss) before the finiteness check.</summary>
    [JsonIgnore]
    internal Func<long, TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>? LossHook { get; init; }

    /// <summary>Occlusion mode: first block of the fine-tuned tail (conv_4, conv_45 or conv_5 on).</summary>
    public Networks.MobileFaceNetStage FineTuneFrom { get; init; } = Networks.MobileFaceNetStage.Conv4;

    /// <summary>Occlusion mode: weight of the distillation term, mean 1 - cos(tail embedding of the occluded image, frozen embedding of the clean image); 0 leaves it out.</summary>
    public double DistillationWeight { get; init; } = 1.0;

    /// <summary>Occlusion mode: weight of the verification term, binary cross-entropy of <see cref="VerificationScale"/> * (xCos - <see cref="VerificationThreshold"/>) against same / different; 0 leaves it out.</summary>
    public double VerificationWeight { get; init; } = 0.1;

    /// <summary>Occlusion mode: the xCos value the verification term centres its logit on (the frozen cosine's threshold).</summary>
    public double VerificationThreshold { get; init; } = 0.3439;

    /// <summary>Occlusion mode: slope of the verification logit.</summary>
    public double VerificationScale { get; init; } = 10.0;

    /// <summary>Occlusion mode: share of training images left clean; the rest get a mask, sunglasses or a block in equal shares.</summary>
    public double CleanShare { get; init; } = 0.25;

    /// <summary>Occlusion mode: how learned xCos is formed (default <see cref="Networks.XcosHeadForm.Anchored"/>; <see cref="Networks.XcosHeadForm.PatchCosine"/> is the paper's).</summary>
    public Networks.XcosHeadForm HeadForm { get; init; } = Networks.XcosHeadForm.Anchored;

    /// <summary>
    /// Occlusion mode, anchored head: the xCos MSE and the verification term score every face of a batch's first half
    /// against every face of its second half (BatchSize^2 pairs, mostly impostors, same and different weighed half
    /// each), not only the sampled pairs, so the head learns the whole geometry that 1:N ranking needs. Default true.
    /// </summary>
    public bool AllPairs { get; init; } = true;

    /// <summary>
    /// Occlusion mode, anchored head: the scale the attention's last batch norm starts at (default 0.01: near-uniform
    /// attention that still passes gradients to the attention's earlier layers; 0 starts exactly at the fine-tuned
    /// cosine but leaves those layers untrained).
    /// </summary>
    public double AttentionStartScale { get; init; } = 0.01;

    /// <summary>
    /// Occlusion mode with <see cref="AllPairs"/>: weight of the ranking term, for each first-half face the cross-entropy
    /// of a softmax over the whole second half (logits <see cref="VerificationScale"/> x xCos) with its own person's faces
    /// as the targets (1:N in miniature); 0 (default) leaves it out.
    /// </summary>
    public double RankWeight { get; init; }

    /// <summary>
    /// Occlusion mode: the original cosine's share w in the shipped score <c>(1 - w) xCos + w cosine</c>, in [0, 1);
    /// null (default) chooses it on the settings people (best mean AUC over the occluders).
    /// </summary>
    public double? CosineWeight { get; init; }

    /// <summary>Occlusion mode: pairs per occluder of the settings people scored after every epoch (half same, half different).</summary>
    public int SettingsPairs { get; init; } = 800;

    /// <summary>The learning rate of a group after <paramref name="completedEpochs"/> epochs (closed form of PyTorch's StepLR stepped per epoch).</summary>
    public double ScheduledRate(double initial, int completedEpochs) =>
        initial * Math.Pow(LrGamma, completedEpochs / Math.Max(1, LrStepSize));

    /// <summary>Network options of the grid model (full mode) built from these options.</summary>
    public XcosModelOptions ModelOptions(bool withTarget) => new()
    {
        Arch = Arch, Depth = Depth, Stages = Stages, GridChannels = GridChannels, GridSize = GridSize, Temperature = Temperature,
        TargetArch = withTarget ? TargetArch : null,
        TargetStages = withTarget ? (TargetStages ?? (BackboneFactory.Parse(TargetArch).Kind == "mobilefacenet" ? null : BackboneFactory.StagesFor(TargetDepth))) : null,
    };

    /// <summary>Checks ranges and what the mode needs; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        ValidateValues();
        void Need(bool ok, string name, string what) { if (!ok) throw new ArgumentException($"option {name} = null: {what}."); }
        Need(Mode != TrainingMode.Occlusion || TargetCheckpoint is not null, nameof(TargetCheckpoint), "occlusion mode needs the frozen face model (ONNX)");
        Need(Mode != TrainingMode.Head || TargetCheckpoint is not null, nameof(TargetCheckpoint), "head mode needs the frozen model's checkpoint");
    }

    /// <summary>
    /// Checks each value's range on its own (what a config file alone can get wrong, whatever flags or a resumed run add);
    /// throws <see cref="ArgumentException"/> naming the option as the JSON options name it.
    /// </summary>
    public void ValidateValues()
    {
        static void Need(bool ok, string name, object? value, string what) { if (!ok) throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"option {name} = {value}: {what}.")); }
        Need(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Need(BatchSize >= 2, nameof(BatchSize), BatchSize, "must be at least 2 (BatchNorm in train mode)");
        Need(GridChannels >= 1, nameof(GridChannels), GridChannels, "must be positive");
        Need(GridSize is >= 1 and <= FaceBackbone.MapSize, nameof(GridSize), GridSize, $"must be 1..{FaceBackbone.MapSize} (grid layer kernel {FaceBackbone.MapSize} - side + 1 on the {FaceBackbone.MapSize}x{FaceBackbone.MapSize} map)");
        Need(FlipProbability is >= 0 and <= 1, nameof(FlipProbability), FlipProbability, "must be in [0, 1]");
        Need(Prefetch >= 1, nameof(Prefetch), Prefetch, "must be at least 1");
        Need(DecodeThreads >= 1, nameof(DecodeThreads), DecodeThreads, "must be at least 1");
        Need(LrStepSize >= 1, nameof(LrStepSize), LrStepSize, "must be at least 1");
        Need(LrGamma > 0, nameof(LrGamma), LrGamma, "must be positive");
        Need(ValidationFolds >= 2, nameof(ValidationFolds), ValidationFolds, "must be at least 2");
        Need(EvaluationBatchSize >= 1, nameof(EvaluationBatchSize), EvaluationBatchSize, "must be positive");
        Need(PairsPerEpoch >= 0, nameof(PairsPerEpoch), PairsPerEpoch, "must be >= 0");
        Need(Preprocess.Size == 112, "Preprocess.Size", Preprocess.Size, "must be 112 (the backbones give a 7x7 map only for 112x112 input)");
        Need(CleanShare is >= 0 and <= 1, nameof(CleanShare), CleanShare, "must be in [0, 1]");
        Need(DistillationWeight >= 0 && VerificationWeight >= 0, nameof(DistillationWeight), $"{DistillationWeight}/{VerificationWeight}", "loss weights must be >= 0");
        Need(RankWeight >= 0, nameof(RankWeight), RankWeight, "must be >= 0");
        Need(CosineWeight is null or (>= 0 and < 1), nameof(CosineWeight), CosineWeight ?? 0, "must be in [0, 1)");
        Need(AttentionStartScale >= 0 && double.IsFinite(AttentionStartScale), nameof(AttentionStartScale), AttentionStartScale, "must be >= 0");
        Need(SettingsPairs >= 20, nameof(SettingsPairs), SettingsPairs, "must be at least 20");
        // a temperature of 0 divides the attention logits by zero; a negative one inverts the attention
        Need(Temperature > 0 && double.IsFinite(Temperature), nameof(Temperature), Temperature, "must be positive and finite");
        Need(Threads is null or >= 0, nameof(Threads), Threads, "must be 0 (all cores) or a positive count");
        foreach (var (n, o) in new[] { (nameof(Backbone), Backbone), (nameof(Head), Head), (nameof(Attention), Attention), (nameof(GridLayer), GridLayer) })
        {
            Need(o.LearningRate > 0 && double.IsFinite(o.LearningRate), n + ".LearningRate", o.LearningRate, "must be positive and finite");
            Need(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay), n + ".WeightDecay", o.WeightDecay, "must be >= 0 and finite (a negative decay grows the weights)");
            Need(o.Momentum >= 0 && double.IsFinite(o.Momentum), n + ".Momentum", o.Momentum, "must be >= 0 and finite");
            Need(o.Beta1 is >= 0 and < 1, n + ".Beta1", o.Beta1, "must be in [0, 1)");
            Need(o.Beta2 is >= 0 and < 1, n + ".Beta2", o.Beta2, "must be in [0, 1)");
            Need(o.Epsilon > 0 && double.IsFinite(o.Epsilon), n + ".Epsilon", o.Epsilon, "must be positive and finite");
        }
    }

    /// <summary>JSON settings used by <see cref="LoadJson(string)"/> and <see cref="ToJson"/>.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Reads options from a JSON file; missing properties keep their defaults.</summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON for these options, gives a key twice or a value out of
    /// range (<see cref="ValidateValues"/>); the message names the file and the key.</exception>
    public static XcosTrainerOptions LoadJson(string path)
    {
        try
        {
            var text = File.ReadAllText(path);
            RefuseDuplicateKeys(path, text);
            return Checked(path, JsonSerializer.Deserialize<XcosTrainerOptions>(text, JsonOptions) ?? throw new InvalidDataException($"{path}: the JSON is null."));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid trainer options ({e.Message})", e);
        }
    }

    // property names match case-insensitively, so "lr" and "LR" are the same key given twice
    private static void RefuseDuplicateKeys(string path, string text)
    {
        if (Config.JsonDuplicateKeys.Find(text, StringComparer.OrdinalIgnoreCase) is { } twice)
            throw new InvalidDataException($"{path}: key '{twice}' is given twice; keep one (JSON would silently take the last).");
    }

    private static XcosTrainerOptions Checked(string path, XcosTrainerOptions o)
    {
        try { o.ValidateValues(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        return o;
    }

    /// <summary>
    /// Reads a JSON file over <paramref name="baseOptions"/>: properties the file names replace theirs (nested objects
    /// property by property), the others keep the base values. This is how <c>--config</c> applies to a resumed run.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not valid JSON for these options (message names the file).</exception>
    public static XcosTrainerOptions LoadJson(string path, XcosTrainerOptions baseOptions)
    {
        ArgumentNullException.ThrowIfNull(baseOptions);
        try
        {
            var text = File.ReadAllText(path);
            RefuseDuplicateKeys(path, text);
            var overlay = System.Text.Json.Nodes.JsonNode.Parse(text, documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
            }) as System.Text.Json.Nodes.JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object of trainer options.");
            var merged = (System.Text.Json.Nodes.JsonObject)JsonSerializer.SerializeToNode(baseOptions, JsonOptions)!;
            Overlay(merged, overlay);
            return Checked(path, merged.Deserialize<XcosTrainerOptions>(JsonOptions) ?? throw new InvalidDataException($"{path}: the JSON is null."));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid trainer options ({e.Message})", e);
        }
    }

    // Property names match case-insensitively, as LoadJson reads them.
    private static void Overlay(System.Text.Json.Nodes.JsonObject target, System.Text.Json.Nodes.JsonObject overlay)
    {
        foreach (var (name, value) in overlay)
        {
            var key = target.Select(kv => kv.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) ?? name;
            if (value is System.Text.Json.Nodes.JsonObject inner && target[key] is System.Text.Json.Nodes.JsonObject existing) Overlay(existing, inner);
            else target[key] = value?.DeepClone();
        }
    }

    /// <summary>The options as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);
}
