using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Data;
using Xcos.ML.Data.Synthetic;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Training;
using Xcos.ML.Verification;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// The end-to-end demo, with nothing to download: writes synthetic identities, trains a small xCos model from scratch
/// (<see cref="XcosTrainer"/>), builds the ML.NET pipeline (<c>VerifyFacePairs</c>) over the trained weights, fits it on
/// the held-out identities' pairs (threshold from the labels), evaluates xCos, the plain cosine and the pixel cosine
/// with the k-fold protocol and ML.NET's <c>EvaluateNonCalibrated</c>, draws explanation figures, writes the HTML report,
/// saves the pipeline as a .zip and checks that the reloaded .zip scores the same. When the real face models are
/// present it also runs synthetic photos through them (see <see cref="DemoRealFaces"/>).
/// </summary>
/// <remarks>
/// Output layout under <see cref="DemoOptions.OutputDirectory"/>: <c>data/</c> (the image folder), <c>training/</c>
/// (checkpoints, log), <c>figures/</c>, <c>report/index.html</c>, <c>xcos_pipeline.zip</c>, <c>real/</c>.
/// The held-out images are 112x112 crops laid out like aligned faces, as the training images, so the pipeline is given the
/// ArcFace template as landmarks (<see cref="FacePairInput.AlignedLandmarks"/>) and AlignFaces keeps them as they are.
/// </remarks>
public sealed class DemoRunner
{
    /// <summary>
    /// The demo's training recipe: MobileFaceNet grid backbone (about 7x faster per step than IR [1,1,1,1] on two cores,
    /// and exported to ONNX like IR), CosFace, SGD lr 0.05 (momentum 0.9, weight decay 5e-4) for backbone and head,
    /// Adam (AMSGrad) lr 1e-3 for the attention, learning rate x0.85 every epoch, batches of 32 pairs. Epochs are many;
    /// the time budget usually ends training. Read from the shipped recipe <c>configs/demo_train_config.json</c>.
    /// </summary>
    public static XcosTrainerOptions DefaultTrainer { get; } = Config.OriginalConfig.Recipe("demo_train_config.json").Trainer;

    /// <summary>Creates a runner; nothing runs until <see cref="Run"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public DemoRunner(DemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>The demo's settings (data size, training budget, output folder).</summary>
    public DemoOptions Options { get; }

    /// <summary>Runs every stage and returns where the outputs are and the headline numbers.</summary>
    /// <param name="progress">Receives stage progress (from the running thread and, while generating, from worker threads).</param>
    /// <param name="cancellationToken">Stops the run (training stops after its current step); throws <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="InvalidOperationException">The reloaded pipeline scored differently from the fitted one.</exception>
    public DemoResult Run(IProgress<DemoProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var o = Options;
        var clock = Stopwatch.StartNew();
        var stageSeconds = new Dictionary<DemoStage, double>();
        string root = Path.GetFullPath(o.OutputDirectory);
        Directory.CreateDirectory(root);
        string dataDir = Path.Combine(root, "data"), trainDir = Path.Combine(root, "training"), figureDir = Path.Combine(root, "figures");
        string reportDir = Path.Combine(root, "report"), zipPath = Path.Combine(root, "xcos_pipeline.zip");
        T Stage<T>(DemoStage stage, Func<T> work)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = Stopwatch.StartNew();
            var r = work();
            stageSeconds[stage] = t.Elapsed.TotalSeconds;
            return r;
        }

        // 1. synthetic identities: train/ (trained on) and val/ (held out), val_pairs.tsv over the held-out ones
        var synth = new SyntheticFaces(new SyntheticFacesOptions
        {
            Identities = o.Identities, ImagesPerIdentity = o.ImagesPerIdentity, Seed = o.Seed,
            ValidationFraction = o.ValidationFraction, ValidationPairs = o.ValidationPairs, Workers = o.Threads ?? 0,
        });
        int images = o.Identities * o.ImagesPerIdentity;
        Stage(DemoStage.Generating, () =>
        {
            synth.WriteImageFolder(dataDir, new Reporter<int>(n => progress?.Report(new DemoProgress(DemoStage.Generating, n, images, "synthetic identities"))), cancellationToken);
            return 0;
        });

        // 2. train from scratch until the epochs are done or the budget leaves only the reserve
        var trainerOptions = o.Trainer with { Seed = o.Seed, Threads = o.Threads };
        var budget = TimeSpan.FromMinutes(o.MinutesBudget);
        var (weights, training, stoppedByBudget, stepsPerEpoch) = Stage(DemoStage.Training, () =>
        {
            using var trainer = new XcosTrainer(trainerOptions, ImageFolder.Load(Path.Combine(dataDir, "train")), null, trainDir);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var left = budget * (1 - o.ReserveFraction) - clock.Elapsed;
            deadline.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            int total = trainer.StepsPerEpoch * trainerOptions.Epochs;
            var result = trainer.Train(new Reporter<TrainProgress>(p =>
            {
                if (p.Phase == TrainPhase.Training && p.PairsPerSecond > 0)
                {
                    double evaluation = EvaluationCostPerPair(trainerOptions.Arch) * o.ValidationPairs / p.PairsPerSecond + 15;
                    double reserve = Math.Max(o.ReserveFraction * budget.TotalSeconds, evaluation);
                    if (clock.Elapsed.TotalSeconds >= budget.TotalSeconds - reserve) deadline.Cancel();
                }
                if (p.Phase == TrainPhase.Training)
                    progress?.Report(new DemoProgress(DemoStage.Training, (int)p.GlobalStep, total, string.Create(CultureInfo.InvariantCulture,
                        $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:F3} {p.PairsPerSecond:F1} pairs/s")));
            }), deadline.Token);
            cancellationToken.ThrowIfCancellationRequested();
            return (TorchOnnxExport.ToWeights(trainer.Model), result, result.Cancelled, trainer.StepsPerEpoch);
        });
        if (training.GlobalStep == 0)
            throw new InvalidOperationException($"the time budget ({o.MinutesBudget} min) ended before the first training step; give a larger --minutes-budget");

        // 3. the ML.NET pipeline over the held-out pairs: Fit chooses the threshold from the labels
        var pairs = PairTsv.Parse(Path.Combine(dataDir, "val_pairs.tsv"));
        var aligned = FacePairInput.AlignedLandmarks();
        var rows = pairs.Select(p => new FacePairInput
        {
            ImagePath1 = Path.Combine(dataDir, p.Id1), ImagePath2 = Path.Combine(dataDir, p.Id2),
            Landmarks1 = aligned, Landmarks2 = aligned, Label = p.Same,
        }).ToArray();
        var ml = new MLContext(seed: o.Seed);
        var (model, predictions, inputSchema) = Stage(DemoStage.Scoring, () =>
        {
            var data = ml.Data.LoadFromEnumerable(rows);
            progress?.Report(new DemoProgress(DemoStage.Scoring, 0, rows.Length, "fitting the pipeline (threshold from labels)"));
            var fitted = ml.Transforms.VerifyFacePairs(new XcosPipelineOptions { Weights = weights, Verification = o.Verification }).Fit(data);
            var scored = Materialize(ml, fitted.Transform(data), rows.Length, n => progress?.Report(new DemoProgress(DemoStage.Scoring, n, rows.Length, "scoring held-out pairs")), cancellationToken);
            return (fitted, scored, data.Schema);
        });
        var same = rows.Select(r => r.Label).ToArray();
        // the pipeline's rule (BestAccuracy), recomputed on the raw xCos; the pipeline's Score is already the margin
        float threshold = (float)VerificationMetrics.BestThreshold(predictions.Select(p => p.Xcos).ToArray(), same, o.Verification.BuildThresholds()).Threshold;
        for (int i = 0; i < predictions.Length; i++)
            if (predictions[i].PredictedLabel != predictions[i].Xcos > threshold)
                throw new InvalidOperationException($"pair {i}: the pipeline's decision does not follow the threshold {threshold} (score {predictions[i].Xcos})");
        var evalView = ml.Data.LoadFromEnumerable(predictions.Select((p, i) => new EvaluationRow
        {
            Label = same[i], Score = p.Xcos, Cosine = p.Cosine, PredictedLabel = p.PredictedLabel, Margin = p.Score,
        }));
        var bin = ml.BinaryClassification.EvaluateNonCalibrated(evalView, "Label", "Margin", "PredictedLabel");
        var xcosReport = ml.EvaluateVerification(evalView, "Label", "Score", o.Verification);
        var cosineReport = ml.EvaluateVerification(evalView, "Label", "Cosine", o.Verification);
        var pixelReport = VerificationMetrics.Evaluate(PixelCosines(rows), same, o.Verification);

        // 4. explanation figures and the HTML report
        var faces = new Dictionary<string, RgbImage>();
        RgbImage Face(string path) { lock (faces) return faces.TryGetValue(path, out var f) ? f : faces[path] = ImageIO.Load(path); }
        ExplanationInput Explain(int i, double threshold, string? title = null) => new()
        {
            Face1Rgb = Face(rows[i].ImagePath1).Pixels, Face2Rgb = Face(rows[i].ImagePath2).Pixels,
            CosMap = predictions[i].CosineMap, Attention = predictions[i].Attention,
            Score = predictions[i].Xcos, Cosine = predictions[i].Cosine, Threshold = threshold, Same = predictions[i].PredictedLabel,
            Title = title ?? (same[i] ? "held-out identities, labelled: same" : "held-out identities, labelled: different"),
            Face1Label = Relative(dataDir, rows[i].ImagePath1), Face2Label = Relative(dataDir, rows[i].ImagePath2),
        };
        var (figures, reportPath) = Stage(DemoStage.Explaining, () =>
        {
            Directory.CreateDirectory(figureDir);
            var written = new List<string>();
            var picks = PickFigures(predictions, same, o.Figures);
            for (int k = 0; k < picks.Count; k++)
            {
                var (i, kind) = picks[k];
                var input = Explain(i, xcosReport.BestThreshold, $"{kind} (pair {i})");
                string panel = Path.Combine(figureDir, $"pair{i:D4}_{kind.Replace(' ', '_')}.png");
                string overlay = Path.Combine(figureDir, $"pair{i:D4}_{kind.Replace(' ', '_')}_overlay.png");
                ExplanationFigure.Save(panel, input);
                ExplanationFigure.SaveOverlay(overlay, input);
                written.Add(panel); written.Add(overlay);
                progress?.Report(new DemoProgress(DemoStage.Explaining, k + 1, picks.Count + 1, "explanation figures"));
            }
            var report = EvaluationReport.Write(reportDir, new EvaluationReportInput
            {
                XcosScores = predictions.Select(p => (double)p.Xcos).ToArray(),
                CosineScores = predictions.Select(p => (double)p.Cosine).ToArray(),
                Same = same,
                PairNames = rows.Select((r, i) => $"pair {i}: {Relative(dataDir, r.ImagePath1)} | {Relative(dataDir, r.ImagePath2)}").ToArray(),
                Explain = (i, threshold) => Explain(i, threshold),
                Title = "xCos demo: synthetic identities, trained from scratch",
                Description = string.Create(CultureInfo.InvariantCulture,
                    $"{synth.TrainIdentities} identities trained on ({synth.TrainIdentities * o.ImagesPerIdentity} images), {rows.Length} pairs of {synth.ValidationIdentities} held-out identities. " +
                    $"Backbone {Describe(trainerOptions)}, {training.GlobalStep} steps of {trainerOptions.BatchSize} pairs. " +
                    $"Scores from the ML.NET pipeline (ONNX Runtime). Pixel-cosine baseline: accuracy {pixelReport.AccuracyMean:F4}, AUC {pixelReport.Auc:F4}."),
            }, new EvaluationReportOptions { Verification = o.Verification });
            progress?.Report(new DemoProgress(DemoStage.Explaining, picks.Count + 1, picks.Count + 1, "HTML report"));
            return ((IReadOnlyList<string>)written, report.IndexPath);
        });

        // 5. save the whole pipeline, reload it in a fresh context and score again
        double reloadDiff = Stage(DemoStage.Reloading, () =>
        {
            ml.Model.Save(model, inputSchema, zipPath);
            var fresh = new MLContext(seed: o.Seed + 1);
            fresh.ComponentCatalog.RegisterAssembly(typeof(XcosPipeline).Assembly);
            var loaded = fresh.Model.Load(zipPath, out _);
            var again = Materialize(fresh, loaded.Transform(fresh.Data.LoadFromEnumerable(rows)), rows.Length,
                n => progress?.Report(new DemoProgress(DemoStage.Reloading, n, rows.Length, "scoring with the reloaded .zip")), cancellationToken);
            double max = 0;
            for (int i = 0; i < rows.Length; i++)
            {
                max = Math.Max(max, Math.Abs((double)again[i].Xcos - predictions[i].Xcos));
                if (again[i].PredictedLabel != predictions[i].PredictedLabel)
                    throw new InvalidOperationException($"{zipPath}: the reloaded pipeline decides pair {i} differently ({again[i].Xcos} vs {predictions[i].Xcos})");
            }
            if (max > 1e-6) throw new InvalidOperationException($"{zipPath}: the reloaded pipeline's scores differ from the fitted one's by up to {max:E2}");
            return max;
        });

        // 6. real face models, when fetched
        var real = Stage(DemoStage.RealFaces, () => RealFaces(root, progress, cancellationToken));

        return new DemoResult(root, reportPath, zipPath, Path.Combine(trainDir, TrainingFiles.LastWeights), figures,
            synth.TrainIdentities, synth.ValidationIdentities, rows.Length,
            Describe(trainerOptions), training.CompletedEpochs, training.GlobalStep, stoppedByBudget,
            DemoScore.From("xCos", xcosReport), DemoScore.From("cosine", cosineReport), DemoScore.From("pixel cosine", pixelReport),
            new DemoMlNetMetrics(bin.Accuracy, bin.AreaUnderRocCurve, bin.F1Score, bin.PositivePrecision, bin.PositiveRecall, threshold),
            rows.Length, reloadDiff, real, stageSeconds, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Seconds of evaluation (fit, score, reload: each pair scored three times through ONNX Runtime) per validation pair,
    /// in units of one training pair's time. Measured on two cores: about 1 for IR [1,1,1,1] (a training pair costs about
    /// what scoring a pair three times costs); about 0.3 for MobileFaceNet, whose depthwise backward pass dominates
    /// TorchSharp training while ONNX Runtime runs the folded net fast. Rounded up for safety.
    /// </summary>
    private static double EvaluationCostPerPair(string arch) => arch.StartsWith("mobilefacenet", StringComparison.Ordinal) ? 0.5 : 1.2;

    // "mobilefacenet", or an IR net with its stage table ("ir[1,1,1,1]"; the preset depth when no table is given)
    private static string Describe(XcosTrainerOptions t) =>
        t.Stages is { } stages ? $"{t.Arch}[{string.Join(",", stages)}]"
        : t.Arch.StartsWith("mobilefacenet", StringComparison.Ordinal) || t.Arch.Any(char.IsDigit) ? t.Arch : $"{t.Arch}{t.Depth}";

    /// <summary>Runs the pipeline once over every row (one pass, with progress).</summary>
    private static FacePairPrediction[] Materialize(MLContext ml, IDataView scored, int count, Action<int> progress, CancellationToken ct)
    {
        var result = new List<FacePairPrediction>(count);
        foreach (var p in ml.Data.CreateEnumerable<FacePairPrediction>(scored, reuseRowObject: false))
        {
            ct.ThrowIfCancellationRequested();
            if (p.Status != "ok")
                throw new InvalidOperationException($"pair {result.Count}: {p.Status}");
            result.Add(p);
            progress(result.Count);
        }
        return result.ToArray();
    }

    /// <summary>Cosine of the two faces' normalised pixel tensors, per pair.</summary>
    private static double[] PixelCosines(FacePairInput[] rows)
    {
        var cache = new Dictionary<string, float[]>();
        float[] T(string path) => cache.TryGetValue(path, out var t) ? t : cache[path] = FaceTensor.ToChw(ImageIO.Load(path));
        return rows.Select(r =>
        {
            var (a, b) = (T(r.ImagePath1), T(r.ImagePath2));
            double ab = 0, aa = 0, bb = 0;
            for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
            return ab / Math.Sqrt(aa * bb);
        }).ToArray();
    }

    /// <summary>The most telling pairs: the worst false reject and false accept, the clearest same and different pair.</summary>
    private static List<(int Index, string Kind)> PickFigures(FacePairPrediction[] p, bool[] same, int count)
    {
        var candidates = new List<(int, string)>();
        void Add(IEnumerable<int> indices, string kind)
        {
            foreach (int i in indices.Take(1))
                if (!candidates.Any(c => c.Item1 == i)) candidates.Add((i, kind));
        }
        var idx = Enumerable.Range(0, p.Length).ToArray();
        Add(idx.Where(i => same[i]).OrderByDescending(i => p[i].Xcos), "clearest same");
        Add(idx.Where(i => !same[i]).OrderBy(i => p[i].Xcos), "clearest different");
        Add(idx.Where(i => same[i] && !p[i].PredictedLabel).OrderBy(i => p[i].Xcos), "false reject");
        Add(idx.Where(i => !same[i] && p[i].PredictedLabel).OrderByDescending(i => p[i].Xcos), "false accept");
        // then the hardest correct ones, nearest the decision
        Add(idx.Where(i => same[i] && p[i].PredictedLabel).OrderBy(i => p[i].Xcos), "hard same");
        Add(idx.Where(i => !same[i] && !p[i].PredictedLabel).OrderByDescending(i => p[i].Xcos), "hard different");
        return candidates.Take(count).ToList();
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    /// <summary>
    /// Synthetic faces rendered larger and placed in a 320x240 photo, run through the real detector, aligner and
    /// fr_feature with the weight-derived xCos. They are not photographs of people: the detector may find no face.
    /// </summary>
    private DemoRealFaces RealFaces(string root, IProgress<DemoProgress>? progress, CancellationToken ct)
    {
        var o = Options;
        string dir = ModelStore.ResolveDirectory(o.ModelsDirectory);
        if (!o.RealFaces) return new DemoRealFaces(dir, false, "skipped (RealFaces = false)", []);
        if (!ModelStore.IsComplete(dir))
            return new DemoRealFaces(dir, false, $"real face models not found in {dir}; run `xcos models fetch` (or set {ModelStore.EnvironmentVariable}) to also explain photos with them", []);
        string realDir = Path.Combine(root, "real");
        Directory.CreateDirectory(realDir);
        var gen = new SyntheticFaces(new SyntheticFacesOptions { Identities = 2, ImagesPerIdentity = 2, ImageSize = 160, Seed = o.Seed + 7, ValidationFraction = 0, ValidationPairs = 0 });
        string Photo(int id, int index)
        {
            var face = gen.Generate(id, index);
            var photo = Canvas(face, 320, 240, 80, 40, o.Seed * 31 + id * 7 + index);
            string path = Path.Combine(realDir, $"photo_id{id}_{index}.png");
            ImageIO.SavePng(photo, path);
            return path;
        }
        var pairs = new[] { (Photo(0, 0), Photo(0, 1), true), (Photo(0, 0), Photo(1, 0), false) };
        var results = new List<DemoRealPair>();
        using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = dir, IntraOpThreads = o.Threads ?? 0 });
        for (int k = 0; k < pairs.Length; k++)
        {
            ct.ThrowIfCancellationRequested();
            var (p1, p2, sameId) = pairs[k];
            var r = verifier.Verify(p1, p2);
            string? figure = null;
            if (r.IsOk)
            {
                figure = Path.Combine(realDir, $"real_pair{k}.png");
                ExplanationFigure.Save(figure, r.ToExplanationInput(
                    title: $"synthetic photos through the real detector + {verifier.Descriptor.OnnxFile} ({(sameId ? "same" : "different")} identity)"));
            }
            results.Add(new DemoRealPair(p1, p2, sameId, r, figure));
            progress?.Report(new DemoProgress(DemoStage.RealFaces, k + 1, pairs.Length, "synthetic photos through the real models"));
        }
        int found = results.Count(x => x.Verification.IsOk);
        string note = found == results.Count
            ? "these are synthetic photos (generated faces placed in a 320x240 picture), not photographs of people, run through the real detector, aligner and face model"
            : $"these are synthetic photos, not photographs of people; the real detector found a face in both photos of {found} of {results.Count} pairs, so only those were explained";
        return new DemoRealFaces(dir, true, note, results);
    }

    /// <summary>A 320x240-style picture: a smooth seeded background with the face placed at (x, y).</summary>
    private static RgbImage Canvas(SyntheticFace face, int width, int height, int x0, int y0, int seed)
    {
        var rng = new Random(seed);
        var (r0, g0, b0) = (rng.Next(60, 200), rng.Next(60, 200), rng.Next(60, 200));
        var px = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int k = (y * width + x) * 3;
                double shade = 0.75 + 0.25 * x / width + 0.1 * Math.Sin(y * 0.05);
                px[k] = (byte)Math.Clamp(r0 * shade, 0, 255);
                px[k + 1] = (byte)Math.Clamp(g0 * shade, 0, 255);
                px[k + 2] = (byte)Math.Clamp(b0 * shade, 0, 255);
            }
        for (int y = 0; y < face.Size; y++)
            Array.Copy(face.Rgb, y * face.Size * 3, px, ((y0 + y) * width + x0) * 3, face.Size * 3);
        return new RgbImage(width, height, px);
    }

    private sealed class EvaluationRow
    {
        public bool Label { get; set; }
        public float Score { get; set; }
        public float Cosine { get; set; }
        public bool PredictedLabel { get; set; }
        public float Margin { get; set; }
    }

    private sealed class Reporter<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
