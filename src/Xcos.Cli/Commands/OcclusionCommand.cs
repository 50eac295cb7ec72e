using System.CommandLine;
using System.Globalization;
using TorchSharp;
using Xcos.ML.Data;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Figures;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Torch;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Explain;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary><c>xcos occlusion</c>: two measurements. With <c>--faces</c>/<c>--photos</c> (people in folders), the
/// occlusion benchmark of a real face model (<see cref="OcclusionBenchmark"/>): clean, surgical-mask shape, dark
/// sunglasses and random blobs over 25 % of face 2, the original fr_feature cosine against the learned xCos of
/// <c>--model</c> on the same pairs (AUC, 10-fold accuracy, TAR at FAR 1e-3), 1:N rank-1 of both orders, a plot and the
/// explanation figure of a masked pair. With <c>--pairs</c>, the paper's masked-face measurement: 10-fold accuracy of
/// xCos and of the cosine as random blobs cover more of face 2, for one or more checkpoints or learned heads.</summary>
public static class OcclusionCommand
{
    public static Command Create()
    {
        var pairs = new Option<FileInfo?>("--pairs") { Description = "Pair set of aligned 112x112 faces (.bin, pairs.txt or TSV): the blob-level measurement of --checkpoint or --learned-head." };
        var root = new Option<DirectoryInfo?>("--root") { Description = "Image root of the pair file (default: its folder)." };
        var checkpoints = new Option<FileInfo[]>("--checkpoint") { Description = "Checkpoint(s); architecture read from the keys.", AllowMultipleArgumentsPerToken = true };
        var heads = new Option<FileInfo[]>("--learned-head") { Description = "Instead of --checkpoint: learned xCos head(s) (.onnx from `xcos train --mode head --onnx-model MODEL`) on the ONNX face model --model; the cosine is the model's own.", AllowMultipleArgumentsPerToken = true };
        var faceModel = new Option<string>("--model") { Description = "Face model: of --learned-head, or the model whose learned xCos the benchmark measures (fr_feature with its learned head, fr_feature_xcos, or a descriptor .json).", DefaultValueFactory = _ => "fr_feature" };
        var modelsDir = new Option<DirectoryInfo?>("--models-dir") { Description = "Models folder for --model (default: $XCOS_MODELS or the user data folder)." };
        var names = new Option<string[]>("--name") { Description = "Name of each checkpoint in the plot (default: file names).", AllowMultipleArgumentsPerToken = true };
        var levels = new Option<string>("--levels") { Description = "Occluded fractions.", DefaultValueFactory = _ => "0,0.1,0.25,0.4,0.5" };
        var seed = new Option<int>("--seed") { Description = "Seed of the masks.", DefaultValueFactory = _ => 0 };
        var plot = new Option<FileInfo?>("--plot") { Description = "Write the accuracy-versus-occlusion plot to this PNG." };
        var threads = new Option<int?>("--threads") { Description = "Intra-op threads (default: all cores)." };
        var bench = new OcclusionBenchmarkArgs();
        var cmd = new Command("occlusion", "Occlusion benchmark of a real face model (--faces/--photos: the original cosine against learned xCos, 1:1 and 1:N, " +
            "clean, mask, sunglasses, 25 % blobs), or accuracy of xCos and the cosine as more of face 2 is masked (--pairs)")
        {
            pairs, root, checkpoints, heads, faceModel, modelsDir, names, levels, seed, plot, threads,
        };
        bench.AddTo(cmd);
        cmd.SetAction(p =>
        {
            if (bench.Given(p))
            {
                if (p.GetValue(pairs) is not null || p.GetValue(checkpoints) is { Length: > 0 })
                    throw new CliException("--faces/--photos run the benchmark of --model; --pairs with --checkpoint or --learned-head run the blob-level measurement: not both.", ExitCodes.Usage);
                return bench.Run(p, p.GetValue(faceModel)!, p.GetValue(modelsDir), p.GetValue(heads) is { Length: 1 } h ? h[0] : null, p.GetValue(seed), p.GetValue(threads), p.GetValue(plot));
            }
            if (p.GetValue(pairs) is null) throw new CliException("give --faces/--photos (the benchmark of a face model) or --pairs (the blob-level measurement).", ExitCodes.Usage);
            var lv = p.GetValue(levels)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is >= 0 and < 1 ? v
                    : throw new CliException($"--levels '{s}': expected fractions in [0, 1).", ExitCodes.Usage)).ToArray();
            var files = p.GetValue(checkpoints) ?? [];
            var headFiles = p.GetValue(heads) ?? [];
            if ((files.Length == 0) == (headFiles.Length == 0))
                throw new CliException("give --checkpoint (TorchSharp xCos models) or --learned-head (heads on an ONNX face model), not both or neither.", ExitCodes.Usage);
            if (headFiles.Length > 0) files = headFiles;
            var labels = p.GetValue(names) is { Length: > 0 } given ? given : files.Select(f => Path.GetFileNameWithoutExtension(f.Name)).ToArray();
            if (labels.Length != files.Length) throw new CliException($"{labels.Length} --name values for {files.Length} checkpoints.", ExitCodes.Usage);
            var device = TorchRuntime.Configure(p.GetValue(threads), "cpu");
            var set = PairSetReader.Load(p.GetValue(pairs)!.FullName, p.GetValue(root)?.FullName);
            var faces1 = new RgbImage[set.Count];
            var faces2 = new RgbImage[set.Count];
            for (int i = 0; i < set.Count; i++)
            {
                var (b1, b2) = set.ReadPair(i);
                faces1[i] = ImageIO.Load(b1, name: set.Pairs[i].Id1);
                faces2[i] = ImageIO.Load(b2, name: set.Pairs[i].Id2);
            }
            var options = new OcclusionOptions { Levels = lv, Face = 2, Seed = p.GetValue(seed), Verification = new VerificationOptions { Folds = Math.Min(10, set.Count) } };
            var results = new List<(string Name, OcclusionResult Result)>();
            if (headFiles.Length > 0)
            {
                using var verifier = OnnxVerifier(p.GetValue(faceModel)!, p.GetValue(modelsDir), p.GetValue(threads));
                for (int k = 0; k < headFiles.Length; k++)
                {
                    using var head = LoadHead(headFiles[k].FullName);
                    try { head.CheckFits(verifier.Descriptor, verifier.Embedder.MapShape[0]); }
                    catch (InvalidDataException e) { throw new CliException(e.Message); }
                    results.Add((labels[k], OcclusionRobustness.Evaluate(new LearnedHeadScoring(verifier.Embedder, head), faces1, faces2, set.Labels, options)));
                }
            }
            for (int k = 0; k < files.Length && headFiles.Length == 0; k++)
            {
                using var model = Load(files[k].FullName);
                model.to(device);
                var r = OcclusionRobustness.Evaluate(new XcosModelScoring(model, new XcosModelScoringOptions { Device = device }), faces1, faces2, set.Labels, options);
                results.Add((labels[k], r));
            }
            if (p.GetValue(plot) is { } png)
            {
                var x = lv.Select(l => l * 100).ToArray();
                var series = results.SelectMany(r => r.Result.Series.Select(s => new PlotSeries($"{r.Name}: {s.ScoreName}", x, s.AccuracyMean))).ToArray();
                var bytes = LinePlot.RenderPng(series, new LinePlotOptions
                {
                    Title = $"Accuracy as face 2 is masked ({set.Count} pairs, {options.Verification.Folds} folds)",
                    XLabel = "masked area of face 2 (%)", YLabel = "10-fold accuracy", LegendBottomRight = false,
                });
                // written beside the target and renamed, so a failure never leaves half a PNG over an old one
                var temp = png.FullName + $".{Guid.NewGuid():N}.tmp";
                File.WriteAllBytes(temp, bytes);
                File.Move(temp, png.FullName, overwrite: true);
            }
            Cli.WriteJson(new
            {
                pairs = set.Count, levels = lv,
                models = results.Select(r => new
                {
                    name = r.Name,
                    series = r.Result.Series.Select(s => new { score = s.ScoreName, accuracy = s.AccuracyMean, std = s.AccuracyStd }),
                }),
            });
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static OnnxFacePairVerifier OnnxVerifier(string model, DirectoryInfo? modelsDir, int? threads)
    {
        string descriptor = RealFaceArgs.ResolveModel(model, "--model");
        try
        {
            return new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions
            {
                ModelsDir = modelsDir?.FullName, DescriptorPath = descriptor, AlignedInput = true, IntraOpThreads = threads ?? 0,
            });
        }
        catch (FileNotFoundException e) { throw new CliException(e.Message); }
        catch (InvalidDataException e) { throw new CliException(e.Message); }
    }

    private static LearnedHead LoadHead(string path)
    {
        if (!File.Exists(path)) throw new CliException($"--learned-head {path}: file not found.");
        try { return new LearnedHead(path); }
        catch (Exception e) when (e is InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            throw new CliException($"--learned-head {path}: not a learned xCos head: {e.Message}");
        }
    }

    private static Xcos.ML.Torch.Networks.XcosModel Load(string path)
    {
        try { return XcosModelLoader.Load(path); }
        catch (CheckpointException e) { throw new CliException(e.Message); }
    }
}
