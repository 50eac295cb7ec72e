using System.Globalization;
using Xcos.ML.Data;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.FaceModels;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;

namespace Xcos.Cli.Commands;

/// <summary>
/// <c>xcos train --mode occlusion</c>: fine-tunes fr_feature's tail with the learned xCos head and occluders
/// (<see cref="OcclusionXcosTrainer"/>), then, from the best epoch (or the last one after Ctrl-C), writes the face
/// model <c>OUT/fr_feature_xcos/</c> (<see cref="XcosFaceModelPackage"/>) with its record.
/// </summary>
internal static class TrainOcclusion
{
    /// <summary>The settings people when none are named: the last four of the folder by name.</summary>
    public const int DefaultSettingsPeople = 4;

    /// <summary>Pairs per occluder of the report people.</summary>
    public const int ReportPairs = 600;

    public static int Run(XcosTrainerOptions o, string data, string? settingsPeople, string? report, string? modelsDir, string outDir, string? resumeFrom,
        bool optimiserGiven, CancellationToken cancel)
    {
        var models = ModelStore.ResolveDirectory(modelsDir);
        var descriptorPath = FaceModelDescriptor.ShippedPath();
        var descriptor = FaceModelDescriptor.Load(descriptorPath);
        var onnx = Path.Combine(models, descriptor.OnnxFile);
        if (!File.Exists(onnx)) throw new CliException($"{onnx} not found: run `xcos models fetch` (or set {ModelStore.EnvironmentVariable}).");
        o = o with { Mode = TrainingMode.Occlusion, TargetCheckpoint = Path.GetFullPath(onnx) };
        // the recipe of the occlusion fine-tune unless a --config chose optimisers: Adam for the tail (the peer's), faster for the new head
        if (!optimiserGiven)
            o = o with
            {
                Backbone = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-4, WeightDecay = 0, Amsgrad = false },
                GridLayer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 0, Amsgrad = false },
                Attention = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 0, Amsgrad = false },
                PairsPerEpoch = o.PairsPerEpoch > 0 ? o.PairsPerEpoch : 1280,
            };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }

        Console.Error.WriteLine($"xcos: reading {data} ...");
        var folder = ImageFolder.Load(data);
        var settingsNames = settingsPeople is null
            ? folder.Identities.Skip(Math.Max(0, folder.Identities.Count - DefaultSettingsPeople)).ToList()
            : settingsPeople.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var fitNames = folder.Identities.Except(settingsNames).ToList();
        LabelledFaces fit, settings;
        try
        {
            fit = LabelledFaces.FromFolder(folder, fitNames);
            settings = LabelledFaces.FromFolder(folder, settingsNames);
        }
        catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }
        Console.Error.WriteLine($"xcos: fit on {fit.People.Count} people ({fit.Faces.Count} faces); settings people: {string.Join(", ", settings.People)} ({settings.Faces.Count} faces)");
        var settingsSet = OccludedPairSet.Build("settings", settings.Faces, settings.Labels, o.SettingsPairs, o.Seed + 7);
        var reportSet = report is null ? null : ReportSet(report, models);

        using var trainer = new OcclusionXcosTrainer(o, descriptor.TensorOptions(), fit, settingsSet, outDir);
        if (resumeFrom is not null) trainer.Resume(resumeFrom);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = TrainCommand.WithProgress(o.Epochs, p => trainer.Train(p, cancel));
        // Ctrl-C keeps the best epoch; without one (stopped in epoch 1) the last step's weights become the model
        var weights = Path.Combine(trainer.OutputDirectory, result.BestCheckpoint is not null ? TrainingFiles.BestWeights : TrainingFiles.LastWeights);
        Xcos.ML.Torch.Checkpoints.XcosCheckpoint.Load(trainer.Net, weights);
        var settingsScores = new Dictionary<FaceOccluder, float[]>();
        var settingsCosines = new Dictionary<FaceOccluder, float[]>();
        var settingsAgreements = new Dictionary<FaceOccluder, (float[] First, float[] Second)>();
        Scored(trainer, settingsSet, settingsScores, settingsCosines, settingsAgreements);
        // the shipped score keeps a share of the original cosine (its clean geometry): with the anchored head that share
        // follows how much the two branches agree on each face (the original cosine decides clean pairs); the settings
        // people choose the agreements, then the occluded share, then the threshold
        var agreementRange = o.HeadForm == XcosHeadForm.Anchored ? XcosFaceModelPackage.ChooseGateAgreements(settingsAgreements) : null;
        var (chosenWeight, sweep) = XcosFaceModelPackage.ChooseCosineWeight(settingsScores, settingsCosines, settingsSet.Same,
            gate: agreementRange is { } ar ? (settingsAgreements, ar.Low, ar.High) : null);
        double cosineWeight = o.CosineWeight ?? chosenWeight;
        var gate = agreementRange is { } r ? new CosineGate(cosineWeight, 1, r.Low, r.High) : null;
        float[] Shipped(FaceOccluder k, float[] x, float[] c, Dictionary<FaceOccluder, (float[], float[])> a) =>
            gate is null ? XcosFaceModelPackage.Blend(x, c, cosineWeight) : XcosFaceModelPackage.GatedBlend(x, c, a[k], gate);
        var blended = settingsScores.ToDictionary(kv => kv.Key, kv => Shipped(kv.Key, kv.Value, settingsCosines[kv.Key], settingsAgreements));
        var threshold = XcosFaceModelPackage.ChooseThreshold(blended, settingsSet.Same);
        var settingsRows = Rows(settingsSet, settingsCosines, k => Shipped(k, settingsScores[k], settingsCosines[k], settingsAgreements), o.ValidationFolds);
        XcosFaceModelRecord.Row[]? reportRows = null;
        if (reportSet is not null)
        {
            var (x, c, a) = (new Dictionary<FaceOccluder, float[]>(), new Dictionary<FaceOccluder, float[]>(), new Dictionary<FaceOccluder, (float[], float[])>());
            Scored(trainer, reportSet, x, c, a);
            reportRows = Rows(reportSet, c, k => Shipped(k, x[k], c[k], a), o.ValidationFolds);
        }
        var record = new XcosFaceModelRecord
        {
            Data = Path.GetFullPath(data),
            FitPeople = fit.People.ToArray(),
            FitFaces = fit.Faces.Count,
            SettingsPeople = settings.People.ToArray(),
            SettingsPairs = settingsSet.Pairs.Count,
            Report = report is null ? null : Path.GetFullPath(report),
            ReportFaces = reportSet?.Faces.Count ?? 0,
            ReportPairs = reportSet?.Pairs.Count ?? 0,
            Seed = o.Seed,
            Epochs = result.CompletedEpochs,
            Steps = result.GlobalStep,
            Cancelled = result.Cancelled,
            WeightsFrom = Path.GetFileName(weights),
            FineTuneFrom = o.FineTuneFrom.ToString(),
            HeadForm = o.HeadForm.ToString(),
            AllPairs = o.AllPairs, AttentionStartScale = o.AttentionStartScale, Temperature = o.Temperature, RankWeight = o.RankWeight,
            Optimizers = string.Create(CultureInfo.InvariantCulture, $"{o.Backbone.Kind}: tail lr {o.Backbone.LearningRate:G3} wd {o.Backbone.WeightDecay:G3}; grid layer {o.GridLayer.Kind} lr {o.GridLayer.LearningRate:G3} wd {o.GridLayer.WeightDecay:G3}; attention {o.Attention.Kind} lr {o.Attention.LearningRate:G3} wd {o.Attention.WeightDecay:G3}"),
            DistillationWeight = o.DistillationWeight,
            XcosWeight = o.XcosWeight,
            VerificationWeight = o.VerificationWeight,
            BatchPairs = o.BatchSize,
            PairsPerEpoch = trainer.PairsPerEpoch,
            CleanShare = o.CleanShare,
            Seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            EpochLosses = result.Epochs.Select(e => e.Loss).ToArray(),
            Settings = settingsRows,
            Held = reportRows,
            CosineWeight = cosineWeight,
            CosineWeightSource = o.CosineWeight is not null ? "given (CosineWeight of the training config)" : string.Create(CultureInfo.InvariantCulture,
                $"of w in 0, 0.05, ..., 0.95, the best mean AUC of (1 - w) xCos + w cosine under the occluders (mask, sunglasses, block) among those whose clean AUC is within 0.001 of the cosine's, on the settings people's {settingsSet.Pairs.Count} pairs per condition; cosine_weight_sweep"),
            CosineWeightSweep = [.. sweep],
            CosineGate = gate?.ToString(),
            CosineGateSource = gate is null ? null : string.Create(CultureInfo.InvariantCulture,
                $"the share is {gate.OccludedWeight:G3} at a pair agreement (the lower of its two faces': cosine of the fine-tuned branch's plain embedding and the original's) at or below {gate.Low:G4}, 1 (the original cosine) at or above {gate.High:G4}, linear between; low: the median agreement of the settings people's occluded faces, high: the 5th percentile of their clean faces'; the occluded share and the sweep are for this gate"),
        };
        var package = Path.Combine(trainer.OutputDirectory, XcosFaceModelPackage.Name);
        XcosFaceModelPackage.Write(trainer.Net, descriptor, onnx, package, threshold, record);
        Console.Error.WriteLine($"xcos: face model written to {package}");
        Cli.WriteJson(new Dictionary<string, object?>
        {
            ["mode"] = "occlusion",
            ["completed_epochs"] = result.CompletedEpochs,
            ["steps"] = result.GlobalStep,
            ["cancelled"] = result.Cancelled,
            ["best_checkpoint"] = result.BestCheckpoint,
            ["face_model"] = package,
            ["xcos_threshold"] = threshold.Threshold,
            ["cosine_weight"] = cosineWeight,
            ["cosine_gate"] = gate?.ToString(),
            ["settings"] = record.Settings,
            ["report"] = record.Held,
        }, Cli.JsonDeclaredNames);
        return result.Cancelled ? ExitCodes.Failure : ExitCodes.Ok;
    }

    /// <summary>Photos of labelled people (DIR/&lt;person&gt;/*.jpg, or DIR/photos/&lt;person&gt;/) aligned by the project's detector, as occluded pairs.</summary>
    private static OccludedPairSet ReportSet(string dir, string models)
    {
        var root = Directory.Exists(Path.Combine(dir, "photos")) ? Path.Combine(dir, "photos") : dir;
        var folder = ImageFolder.Load(root);
        using var detector = FaceDetector.FromDirectory(models, new FaceDetectorOptions { IntraOpThreads = 2 });
        var faces = new List<RgbImage>();
        var labels = new List<int>();
        CliProgress.Run($"aligning {folder.Count} photos of {Path.GetFileName(dir.TrimEnd('/'))}", folder.Count, step =>
        {
            foreach (var s in folder.Samples)
            {
                var face = detector.DetectAndAlign(ImageIO.Load(s.Path)).Face;
                if (face is null) Console.Error.WriteLine($"xcos: {s.Path}: no face found; left out");
                else { faces.Add(face); labels.Add(s.Label); }
                step(1);
            }
            return 0;
        });
        // 300 same-person pairs of the report people (of 450 in dev-faces) and as many different-person pairs: CPU time on a shared machine
        return OccludedPairSet.Build(Path.GetFileName(Path.GetFullPath(dir).TrimEnd('/')), faces, labels, ReportPairs, 11);
    }

    private static void Scored(OcclusionXcosTrainer trainer, OccludedPairSet set, Dictionary<FaceOccluder, float[]> scores, Dictionary<FaceOccluder, float[]> cosines,
        Dictionary<FaceOccluder, (float[] First, float[] Second)> agreements)
    {
        int total = set.Pairs.Select(p => p.A).Distinct().Count() + set.Pairs.Count * FaceOccluders.All.Count;
        CliProgress.Run($"scoring {set.Name} ({set.Pairs.Count} pairs x {FaceOccluders.All.Count} occluders)", total, step =>
        {
            int last = 0;
            return trainer.Evaluate(set, (d, _) => { step(d - last); last = d; }, scores, cosines, agreements);
        });
    }

    // The record's rows: the original cosine against the shipped score (the blend) per occluder.
    private static XcosFaceModelRecord.Row[] Rows(OccludedPairSet set, Dictionary<FaceOccluder, float[]> cosine, Func<FaceOccluder, float[]> shipped, int folds)
    {
        var opts = new Xcos.ML.Metrics.VerificationOptions { Folds = folds };
        return [.. FaceOccluders.All.Select(k =>
        {
            var c = Xcos.ML.Metrics.VerificationMetrics.Evaluate(cosine[k], set.Same, opts);
            var x = Xcos.ML.Metrics.VerificationMetrics.Evaluate(shipped(k), set.Same, opts);
            return XcosFaceModelRecord.Row.Of($"{set.Name}-{FaceOccluders.Name(k)}", set.Same.Length, c, x);
        })];
    }

    /// <summary>Parses conv_4 / conv_45 / conv_5.</summary>
    public static MobileFaceNetStage ParseStage(string text) => text switch
    {
        "conv_4" => MobileFaceNetStage.Conv4,
        "conv_45" => MobileFaceNetStage.Conv45,
        "conv_5" => MobileFaceNetStage.Conv5,
        _ => throw new CliException($"--from '{text}': expected conv_4, conv_45 or conv_5.", ExitCodes.Usage),
    };

    internal static string Format(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
}
