using System.Text.Json;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Config;

/// <summary>Walks a config in the original's schema, checking every key (see <see cref="OriginalConfig"/>).</summary>
internal sealed class OriginalConfigReader(string source)
{
    private readonly List<string> _ignored = new();

    // Keys the original reads that change nothing here: logging, device workers, its own bookkeeping.
    private static readonly string[] TopIgnored = ["trainer_args", "validation_strategy", "optimize_strategy", "log_step", "verbosity", "saved_keys", "save_while_infer"];

    public OriginalConfig Read(JsonElement root)
    {
        Need(root, JsonValueKind.Object, "the top level");
        var o = new XcosTrainerOptions();
        string? name = null, trainDir = null, saveDir = null;
        int? classNum = null;
        IReadOnlyList<string> valid = [], test = [];
        JsonElement? optimizers = null, schedulers = null;
        foreach (var p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "name": name = Str(p.Value, "name"); break;
                case "n_gpu": o = o with { Device = Int(p.Value, "n_gpu") > 0 ? "auto" : "cpu" }; break;
                case "optimizers": optimizers = p.Value; break;
                case "optimizer": optimizers = Wrap(p.Value); break; // older template: one optimiser for everything
                case "lr_schedulers": schedulers = p.Value; break;
                case "lr_scheduler": schedulers = Wrap(p.Value); break;
                case "trainer": (o, saveDir) = ReadTrainer(p.Value, o); break;
                case "arch": (o, classNum) = ReadArch(p.Value, o); break;
                case "data_loader": (o, trainDir) = ReadDataLoader(p.Value, o); break;
                case "valid_data_loaders": (o, valid) = ReadBinLoaders(p.Value, "valid_data_loaders", o); break;
                case "test_data_loaders": (o, test) = ReadBinLoaders(p.Value, "test_data_loaders", o); break;
                case "losses": o = ReadLosses(p.Value, o); break;
                case "metrics": o = ReadMetrics(p.Value, o); break;
                case "visualization": o = ReadVisualization(p.Value, o); break;
                default:
                    if (TopIgnored.Contains(p.Name)) { if (!IsEmpty(p.Value)) _ignored.Add(p.Name); }
                    else throw Unknown(p.Name, ["name", "n_gpu", "optimizers", "lr_schedulers", "trainer", "arch", "data_loader", "valid_data_loaders", "test_data_loaders", "losses", "metrics", "visualization", .. TopIgnored]);
                    break;
            }
        }
        if (optimizers is { } opt) o = ReadOptimizers(opt, o);
        if (schedulers is { } sch) o = ReadSchedulers(sch, o);
        if (o.ClassificationWeight <= 0 && o.XcosWeight <= 0) throw Error("losses", "no loss has a positive weight");
        try { o.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message}", e); }
        return new OriginalConfig
        {
            Source = source, Name = name, Trainer = o, TrainDataDir = trainDir, SaveDir = saveDir, ClassNum = classNum,
            ValidationSets = valid, TestSets = test, Ignored = _ignored.Distinct().ToList(),
        };
    }

    private static JsonElement Wrap(JsonElement single)
    {
        using var doc = JsonDocument.Parse($"{{\"default\": {single.GetRawText()}}}");
        return doc.RootElement.Clone();
    }

    private (XcosTrainerOptions, string?) ReadTrainer(JsonElement e, XcosTrainerOptions o)
    {
        Need(e, JsonValueKind.Object, "trainer");
        string? saveDir = null;
        foreach (var p in e.EnumerateObject())
        {
            string key = "trainer." + p.Name;
            switch (p.Name)
            {
                case "epochs": o = o with { Epochs = Int(p.Value, key) }; break;
                case "save_dir": saveDir = Str(p.Value, key); break;
                case "seed": o = o with { Seed = Int(p.Value, key) }; break;
                case "threads": o = o with { Threads = Int(p.Value, key) >= 0 ? Int(p.Value, key) : throw Error(key, $"{p.Value.GetRawText()}: must be 0 (all cores) or a positive count") }; break;
                // checkpoints are written every epoch, the best chosen by the first validation set's xCos accuracy
                case "save_freq" or "monitor" or "monitored_metric" or "monitor_mode" or "monitored_loader" or "verbosity": _ignored.Add(key); break;
                default: throw Unknown(key, ["epochs", "save_dir", "seed", "threads", "save_freq", "monitor", "monitored_metric", "monitor_mode", "monitored_loader", "verbosity"]);
            }
        }
        return (o, saveDir);
    }

    private (XcosTrainerOptions, int?) ReadArch(JsonElement e, XcosTrainerOptions o)
    {
        Need(e, JsonValueKind.Object, "arch");
        int? classNum = null;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "type":
                    if (Str(p.Value, "arch.type") != "xCosModel") throw Error("arch.type", $"'{p.Value}' is not supported (only xCosModel)");
                    break;
                case "args":
                    Need(p.Value, JsonValueKind.Object, "arch.args");
                    foreach (var a in p.Value.EnumerateObject())
                    {
                        string key = "arch.args." + a.Name;
                        o = a.Name switch
                        {
                            "class_num" => o,
                            "backbone" => o with { Arch = Str(a.Value, key) },
                            "depth" => o with { Depth = Int(a.Value, key), Stages = null },
                            "stages" => o with { Stages = Ints(a.Value, key) },
                            "grid_channels" => o with { GridChannels = Int(a.Value, key) },
                            "grid_size" => o with { GridSize = Int(a.Value, key) },
                            "temperature" => o with { Temperature = Positive(a.Value, key) },
                            "target_checkpoint" => o with { TargetCheckpoint = Path.GetFullPath(Str(a.Value, key)) },
                            "target_arch" => o with { TargetArch = Str(a.Value, key) },
                            "target_depth" => o with { TargetDepth = Int(a.Value, key), TargetStages = null },
                            "target_stages" => o with { TargetStages = Ints(a.Value, key) },
                            "margin_head" => o with
                            {
                                MarginHead = Str(a.Value, key).ToLowerInvariant() switch
                                {
                                    "arcface" => MarginHeadKind.ArcFace,
                                    "cosface" => MarginHeadKind.CosFace,
                                    var h => throw Error(key, $"'{h}' is not arcface or cosface"),
                                }
                            },
                            "margin_scale" => o with { MarginScale = Num(a.Value, key) },
                            "margin" => o with { Margin = Num(a.Value, key) },
                            "draw_qualitative_result" => Ignore(o, key),
                            _ => throw Unknown(key, ["class_num", "backbone", "depth", "stages", "grid_channels", "grid_size", "temperature", "target_checkpoint", "target_arch",
                                "target_depth", "target_stages", "margin_head", "margin_scale", "margin", "draw_qualitative_result"]),
                        };
                        if (a.Name == "class_num") classNum = Int(a.Value, key);
                    }
                    break;
                default: throw Unknown("arch." + p.Name, ["type", "args"]);
            }
        }
        return (o, classNum);
    }

    private (XcosTrainerOptions, string?) ReadDataLoader(JsonElement e, XcosTrainerOptions o)
    {
        Need(e, JsonValueKind.Object, "data_loader");
        string? dir = null;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "type":
                    if (Str(p.Value, "data_loader.type") != "FaceDataLoader") throw Error("data_loader.type", $"'{p.Value}' is not supported (only FaceDataLoader: an image folder of identities)");
                    break;
                case "args":
                    Need(p.Value, JsonValueKind.Object, "data_loader.args");
                    foreach (var a in p.Value.EnumerateObject())
                    {
                        string key = "data_loader.args." + a.Name;
                        switch (a.Name)
                        {
                            case "data_dir": dir = Path.GetFullPath(Str(a.Value, key)); break;
                            case "batch_size": o = o with { BatchSize = Int(a.Value, key) }; break;
                            case "num_workers": o = o with { DecodeThreads = Math.Max(1, Int(a.Value, key)) }; break;
                            case "flip_probability": o = o with { FlipProbability = Num(a.Value, key) }; break;
                            case "validation_split":
                                if (Num(a.Value, key) != 0) throw Error(key, "a split of the training folder is not supported; give valid_data_loaders");
                                break;
                            case "name" or "shuffle": _ignored.Add(key); break;
                            default: throw Unknown(key, ["data_dir", "batch_size", "num_workers", "flip_probability", "validation_split", "name", "shuffle"]);
                        }
                    }
                    break;
                default: throw Unknown("data_loader." + p.Name, ["type", "args"]);
            }
        }
        return (o, dir);
    }

    private (XcosTrainerOptions, IReadOnlyList<string>) ReadBinLoaders(JsonElement e, string section, XcosTrainerOptions o)
    {
        var files = new List<string>();
        foreach (var (label, entry) in Entries(e, section))
        {
            string at = $"{section}.{label}";
            Need(entry, JsonValueKind.Object, at);
            string? dir = null, name = null;
            foreach (var p in entry.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "type":
                        if (Str(p.Value, at + ".type") != "FaceBinDataLoader") throw Error(at + ".type", $"'{p.Value}' is not supported (only FaceBinDataLoader: <data_dir>/<name>.bin)");
                        break;
                    case "args":
                        Need(p.Value, JsonValueKind.Object, at + ".args");
                        foreach (var a in p.Value.EnumerateObject())
                        {
                            string key = $"{at}.args.{a.Name}";
                            switch (a.Name)
                            {
                                case "data_dir": dir = Str(a.Value, key); break;
                                case "name": name = Str(a.Value, key); break;
                                case "batch_size": o = o with { EvaluationBatchSize = Int(a.Value, key) }; break;
                                case "shuffle" or "validation_split" or "num_workers": _ignored.Add($"{section}.*.args.{a.Name}"); break;
                                default: throw Unknown(key, ["data_dir", "name", "batch_size", "shuffle", "validation_split", "num_workers"]);
                            }
                        }
                        break;
                    default: throw Unknown($"{at}.{p.Name}", ["type", "args"]);
                }
            }
            if (dir is null || name is null) throw Error(at + ".args", "needs data_dir and name (the set is read from <data_dir>/<name>.bin)");
            files.Add(Path.GetFullPath(Path.Combine(dir, name + ".bin")));
        }
        return (o, files);
    }

    private XcosTrainerOptions ReadLosses(JsonElement e, XcosTrainerOptions o)
    {
        double ce = 0, mse = 0;
        foreach (var (label, entry) in Entries(e, "losses"))
        {
            string at = $"losses.{label}";
            var (type, args) = TypeAndArgs(entry, at);
            double weight = 1;
            foreach (var a in args)
            {
                string key = $"{at}.args.{a.Name}";
                switch (a.Name)
                {
                    case "weight": weight = Num(a.Value, key); break;
                    // wiring of the original's output dict to the loss, fixed here
                    case "output_key" or "target_key" or "nickname": break;
                    default: throw Unknown(key, ["weight", "output_key", "target_key", "nickname"]);
                }
            }
            switch (type)
            {
                case "SiameseCrossEntropyLoss": ce += weight; break;
                case "SiameseMSELoss": mse += weight; break;
                default: throw Error(at + ".type", $"'{type}' is not supported (SiameseCrossEntropyLoss, SiameseMSELoss)");
            }
        }
        return o with { ClassificationWeight = ce, XcosWeight = mse };
    }

    // Event files always go to OUT/runs, next to the checkpoints.
    private XcosTrainerOptions ReadVisualization(JsonElement e, XcosTrainerOptions o)
    {
        Need(e, JsonValueKind.Object, "visualization");
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "tensorboardX": o = o with { TensorBoard = Bool(p.Value, "visualization.tensorboardX") }; break;
                case "log_dir": _ignored.Add("visualization.log_dir"); break;
                default: throw Unknown("visualization." + p.Name, ["tensorboardX", "log_dir"]);
            }
        }
        return o;
    }

    private XcosTrainerOptions ReadMetrics(JsonElement e, XcosTrainerOptions o)
    {
        foreach (var (label, entry) in Entries(e, "metrics"))
        {
            string at = $"metrics.{label}";
            var (type, args) = TypeAndArgs(entry, at);
            if (type != "VerificationMetric") throw Error(at + ".type", $"'{type}' is not supported (VerificationMetric)");
            foreach (var a in args)
            {
                string key = $"{at}.args.{a.Name}";
                switch (a.Name)
                {
                    case "num_of_folds": o = o with { ValidationFolds = Int(a.Value, key) }; break;
                    case "output_key" or "target_key" or "nickname" or "scenario": break;
                    default: throw Unknown(key, ["num_of_folds", "output_key", "target_key", "nickname", "scenario"]);
                }
            }
        }
        return o;
    }

    // Named optimisers: "default" applies to every group, "backbone" / "head" / "attention" / "grid_layer" to one.
    private XcosTrainerOptions ReadOptimizers(JsonElement e, XcosTrainerOptions o)
    {
        var entries = Entries(e, "optimizers").OrderBy(x => x.Label == "default" ? 0 : 1).ToList();
        foreach (var (label, entry) in entries)
        {
            string at = $"optimizers.{label}";
            var (type, args) = TypeAndArgs(entry, at);
            var kind = type switch
            {
                "SGD" => OptimizerKind.Sgd,
                "Adam" => OptimizerKind.Adam,
                _ => throw Error(at + ".type", $"'{type}' is not supported (SGD, Adam)"),
            };
            OptimizerSettings Apply(OptimizerSettings s)
            {
                s = s with { Kind = kind };
                foreach (var a in args)
                {
                    string key = $"{at}.args.{a.Name}";
                    s = a.Name switch
                    {
                        "lr" => s with { LearningRate = Positive(a.Value, key) },
                        "weight_decay" => s with { WeightDecay = NonNegative(a.Value, key) },
                        "momentum" when kind == OptimizerKind.Sgd => s with { Momentum = NonNegative(a.Value, key) },
                        "amsgrad" when kind == OptimizerKind.Adam => s with { Amsgrad = Bool(a.Value, key) },
                        "eps" when kind == OptimizerKind.Adam => s with { Epsilon = Positive(a.Value, key) },
                        "betas" when kind == OptimizerKind.Adam => Ints2(a.Value, key) is var (b1, b2) ? s with { Beta1 = b1, Beta2 = b2 } : s,
                        _ => throw Unknown(key, kind == OptimizerKind.Sgd ? ["lr", "weight_decay", "momentum"] : ["lr", "weight_decay", "amsgrad", "eps", "betas"]),
                    };
                }
                return s;
            }
            o = label switch
            {
                "default" => o with { Backbone = Apply(o.Backbone), Head = Apply(o.Head), Attention = Apply(o.Attention), GridLayer = Apply(o.GridLayer) },
                "backbone" => o with { Backbone = Apply(o.Backbone) },
                "head" => o with { Head = Apply(o.Head) },
                "attention" => o with { Attention = Apply(o.Attention) },
                "grid_layer" => o with { GridLayer = Apply(o.GridLayer) },
                _ => throw Unknown("optimizers." + label, ["default", "backbone", "head", "attention", "grid_layer"]),
            };
        }
        return o;
    }

    // One StepLR drives every group here, so all named schedulers must agree.
    private XcosTrainerOptions ReadSchedulers(JsonElement e, XcosTrainerOptions o)
    {
        (int Step, double Gamma)? seen = null;
        foreach (var (label, entry) in Entries(e, "lr_schedulers"))
        {
            string at = $"lr_schedulers.{label}";
            if (label is not ("default" or "backbone" or "head" or "attention" or "grid_layer"))
                throw Unknown(at, ["default", "backbone", "head", "attention", "grid_layer"]);
            var (type, args) = TypeAndArgs(entry, at);
            if (type != "StepLR") throw Error(at + ".type", $"'{type}' is not supported (StepLR)");
            int step = 1; double gamma = 0.1; // PyTorch's StepLR defaults
            foreach (var a in args)
            {
                string key = $"{at}.args.{a.Name}";
                switch (a.Name)
                {
                    case "step_size": step = Int(a.Value, key); break;
                    case "gamma": gamma = Num(a.Value, key); break;
                    default: throw Unknown(key, ["step_size", "gamma"]);
                }
            }
            if (seen is { } s && s != (step, gamma)) throw Error(at, $"StepLR({step}, {gamma}) differs from another scheduler's StepLR({s.Step}, {s.Gamma}); one schedule drives every group here");
            seen = (step, gamma);
        }
        return seen is { } v ? o with { LrStepSize = v.Step, LrGamma = v.Gamma } : o;
    }

    private (string Type, List<JsonProperty> Args) TypeAndArgs(JsonElement entry, string at)
    {
        Need(entry, JsonValueKind.Object, at);
        string? type = null;
        var args = new List<JsonProperty>();
        foreach (var p in entry.EnumerateObject())
        {
            switch (p.Name)
            {
                case "type": type = Str(p.Value, at + ".type"); break;
                case "args": Need(p.Value, JsonValueKind.Object, at + ".args"); args.AddRange(p.Value.EnumerateObject()); break;
                default: throw Unknown($"{at}.{p.Name}", ["type", "args"]);
            }
        }
        return (type ?? throw Error(at, "has no type"), args);
    }

    // The original keys its loader, loss and metric lists by "0", "1", ...; older files use JSON arrays.
    private IEnumerable<(string Label, JsonElement Entry)> Entries(JsonElement e, string section) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Select(p => (p.Name, p.Value)).ToList(),
        JsonValueKind.Array => e.EnumerateArray().Select((x, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), x)).ToList(),
        _ => throw Error(section, $"expected an object or an array, found {e.ValueKind}"),
    };

    private XcosTrainerOptions Ignore(XcosTrainerOptions o, string key)
    {
        _ignored.Add(key);
        return o;
    }

    private static bool IsEmpty(JsonElement e) => e.ValueKind == JsonValueKind.Object && !e.EnumerateObject().Any();

    private void Need(JsonElement e, JsonValueKind kind, string key)
    {
        if (e.ValueKind != kind) throw Error(key, $"expected {kind.ToString().ToLowerInvariant()}, found {e.ValueKind.ToString().ToLowerInvariant()}");
    }

    private string Str(JsonElement e, string key) => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Error(key, $"expected a string, found {e.GetRawText()}");
    private double Num(JsonElement e, string key) => e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Error(key, $"expected a number, found {e.GetRawText()}");
    // ranges checked where the key is known, so the message names the original's key (arch.args.temperature), not the option
    private double Positive(JsonElement e, string key) => Num(e, key) is var v && v > 0 && double.IsFinite(v) ? v : throw Error(key, $"{e.GetRawText()}: must be positive and finite");
    private double NonNegative(JsonElement e, string key) => Num(e, key) is var v && v >= 0 && double.IsFinite(v) ? v : throw Error(key, $"{e.GetRawText()}: must be >= 0 and finite");
    private bool Bool(JsonElement e, string key) => e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Error(key, $"expected true or false, found {e.GetRawText()}");
    private int Int(JsonElement e, string key) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw Error(key, $"expected an integer, found {e.GetRawText()}");
    private int[] Ints(JsonElement e, string key) => e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => Int(x, key)).ToArray() : throw Error(key, $"expected an array of integers, found {e.GetRawText()}");

    private (double, double) Ints2(JsonElement e, string key)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2) throw Error(key, $"expected two numbers, found {e.GetRawText()}");
        return (Num(e[0], key), Num(e[1], key));
    }

    private InvalidDataException Error(string key, string what) => new($"{source}: {key}: {what}.");

    private InvalidDataException Unknown(string key, IEnumerable<string> known) =>
        new($"{source}: unknown key '{key}' (known here: {string.Join(", ", known)}).");
}
