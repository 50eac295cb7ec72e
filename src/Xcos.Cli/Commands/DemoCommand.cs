using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Xcos.ML.Images;
using Xcos.ML.Torch.Demo;

using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// <c>xcos demo</c>: the whole product in one command with nothing to download (<see cref="DemoRunner"/>). By default it
/// evaluates the shipped checkpoint on the held-out synthetic identities it was measured on, explains, reports, and saves and
/// reloads the ML.NET pipeline; the accuracy is the recorded one on any machine. <c>--train</c> first trains a checkpoint
/// from scratch for the recipe's fixed number of steps (same result everywhere, only the time differs).
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Output folder (data, figures, report, model .zip; with --train also training/ and checkpoint/).", DefaultValueFactory = _ => "xcos-demo" };
        var train = new Option<bool>("--train") { Description = "Train a checkpoint from scratch (configs/demo_train_config.json, a fixed number of steps) instead of evaluating the shipped one." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Evaluate this demo checkpoint (with its NAME.json record next to it) instead of the shipped one." };
        var seed = new Option<int?>("--seed") { Description = "With --train: seed of data, initialisation and sampling (default: the recipe's, 0)." };
        var threads = new Option<int?>("--threads") { Description = "Threads (default: the recipe's 1 for training (the weights depend on it), all cores for scoring)." };
        var identities = new Option<int?>("--identities") { Description = "With --train: synthetic identities, trained and held out together (default 250)." };
        var photos = new Option<string?>("--photos") { Description = "Labelled real photos for the real-model part: a folder with pairs.tsv (default: XCOS_PHOTOS, ../shared/dev-faces)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the summary." };
        var cmd = new Command("demo", "Evaluate the shipped xCos checkpoint on held-out synthetic identities, explain, report, save and reload the ML.NET pipeline (no download); --train trains it from scratch.")
        {
            output, train, checkpoint, seed, threads, identities, photos, json,
        };
        cmd.SetAction(parse =>
        {
            bool training = parse.GetValue(train);
            if (!training && parse.GetValue(identities) is not null)
                throw new CliException("--identities applies to --train only (a checkpoint's record fixes its data)", ExitCodes.Usage);
            var options = new DemoOptions
            {
                OutputDirectory = parse.GetValue(output)!, Train = training, Checkpoint = parse.GetValue(checkpoint),
                Seed = parse.GetValue(seed), Threads = parse.GetValue(threads), PhotosDirectory = parse.GetValue(photos),
            };
            if (parse.GetValue(identities) is int n) options = options with { Data = options.Data with { Identities = n } };
            DemoRunner runner;
            try { runner = new DemoRunner(options); }
            catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }

            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { if (!cts.IsCancellationRequested) { e.Cancel = true; cts.Cancel(); } };
            Console.CancelKeyPress += onCancel;
            DemoResult result;
            try { result = WithProgress(p => runner.Run(p, cts.Token)); }
            finally { Console.CancelKeyPress -= onCancel; }

            if (parse.GetValue(json)) { Cli.WriteJson(result, Cli.JsonDeclaredNames); return ExitCodes.Ok; }
            Console.WriteLine(Summary(result));
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>The closing lines: what was evaluated, the headline numbers against the record, where things are.</summary>
    internal static string Summary(DemoResult r)
    {
        var s = new System.Text.StringBuilder();
        void L(FormattableString line) => s.AppendLine(line.ToString(CultureInfo.InvariantCulture));
        var c = r.Checkpoint;
        L($"xcos demo finished in {r.TotalSeconds:F0} s ({string.Join(", ", r.StageSeconds.Select(kv => $"{kv.Key.ToString().ToLowerInvariant()} {kv.Value:F0} s"))})");
        if (r.Trained)
            L($"trained {c.Architecture} from scratch on {c.TrainIdentities} synthetic identities: {c.Steps} steps ({c.Epochs} epochs) of {c.BatchSize} pairs, {c.Recipe}, seed {c.Seed}, {c.Threads} threads, {r.TrainingSeconds:F0} s");
        else
            L($"checkpoint {r.CheckpointPath}: {c.Architecture} trained from scratch on {c.TrainIdentities} synthetic identities by `{c.Command}` ({c.Steps} steps of {c.BatchSize} pairs, {c.Recipe}, seed {c.Seed}, {c.Threads} threads)");
        L($"held-out evaluation: {r.Pairs} pairs of {c.HeldOutIdentities} identities never trained on, 10-fold protocol:");
        foreach (var m in new[] { r.Xcos, r.Cosine, r.PixelCosine })
            L($"  {m.Name,-13} accuracy {m.Accuracy:P2} ± {m.AccuracyStd:P2}   AUC {m.Auc:F4}   EER {m.Eer:P2}");
        if (r.Recorded is { } rec)
            L($"{(r.Trained ? "the shipped checkpoint, trained the same way," : "recorded with the checkpoint:")} xCos {rec.Xcos.Accuracy:P2} (AUC {rec.Xcos.Auc:F4}), cosine {rec.Cosine.Accuracy:P2} (AUC {rec.Cosine.Auc:F4}): {(r.MatchesRecord ? "the same" : "DIFFERENT")}, largest per-pair xCos difference {r.MaxScoreDifference:G3}");
        L($"ML.NET EvaluateNonCalibrated of the fitted pipeline (threshold {r.MlNet.Threshold:F3} fitted on the same pairs): accuracy {r.MlNet.Accuracy:P2}, AUC {r.MlNet.Auc:F4}, F1 {r.MlNet.F1:F4}");
        L($"ML.NET pipeline saved to {r.ModelZipPath}; reloaded in a fresh MLContext, {r.ReloadedPairs} pairs scored again: max |score difference| {r.ReloadMaxDifference:G3}");
        L($"real faces: {r.RealFaces.Note}");
        foreach (var p in r.RealFaces.Pairs)
            L($"  {Path.GetFileName(p.Photo1)} vs {Path.GetFileName(p.Photo2)} (labelled {(p.SameIdentity ? "same person" : "different people")}): {RealLine(p)}");
        L($"figures: {Path.GetDirectoryName(r.Figures.Count > 0 ? r.Figures[0] : r.OutputDirectory)} ({r.Figures.Count} files)");
        L($"report: {r.ReportPath}");
        if (r.Trained)
            L($"checkpoint, record and pairs: {Path.GetDirectoryName(r.CheckpointPath)} (the layout of data/demo; `xcos demo --checkpoint {r.CheckpointPath}` evaluates it again)");
        return s.ToString();
    }

    private static string RealLine(DemoRealPair p)
    {
        var v = p.Verification;
        if (!v.IsOk) return $"{v.Status.ToText()}, faces found {v.Face1.FaceCount}/{v.Face2.FaceCount}";
        string verdict = v.Decision == VerificationDecision.Undecided ? "no threshold"
            : $"{(v.Same ? "same" : "different")} at threshold {v.Threshold:F3} ({(v.Same == p.SameIdentity ? "right" : "wrong")})";
        return string.Create(CultureInfo.InvariantCulture, $"cosine {v.Cosine:F3}, xCos {v.Xcos:F3}: {verdict}{(p.Figure is null ? "" : $", figure {p.Figure}")}");
    }

    /// <summary>One bar per stage on stderr; plain stage lines when stderr is redirected.</summary>
    private static DemoResult WithProgress(Func<IProgress<DemoProgress>, DemoResult> run)
    {
        if (Console.IsErrorRedirected)
        {
            DemoStage? last = null;
            int lastTwentieth = -1;
            return run(new Reporter(p =>
            {
                // a line per stage, and training's step, loss and time left every 5 %
                int twentieth = p.Total > 0 ? 20 * p.Done / p.Total : 0;
                bool newStage = p.Stage != last;
                if (!newStage && (p.Stage != DemoStage.Training || twentieth == lastTwentieth)) return;
                last = p.Stage;
                lastTwentieth = twentieth;
                Console.Error.WriteLine($"xcos demo: {p.Stage.ToString().ToLowerInvariant()} ({p.Detail})");
            }));
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        DemoResult? result = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<DemoStage, ProgressTask>();
                var gate = new object();
                result = run(new Reporter(p =>
                {
                    lock (gate)
                    {
                        if (!tasks.TryGetValue(p.Stage, out var task))
                        {
                            foreach (var t in tasks.Values) t.Value = t.MaxValue;
                            tasks[p.Stage] = task = ctx.AddTask(p.Stage.ToString().ToLowerInvariant(), maxValue: Math.Max(1, p.Total));
                        }
                        task.Description = Markup.Escape($"{p.Stage.ToString().ToLowerInvariant()}: {p.Detail}");
                        task.MaxValue = Math.Max(1, p.Total);
                        task.Value = Math.Max(task.Value, p.Done);
                    }
                }));
                foreach (var t in tasks.Values) t.Value = t.MaxValue;
            });
        return result!;
    }

    private sealed class Reporter(Action<DemoProgress> report) : IProgress<DemoProgress>
    {
        public void Report(DemoProgress value) => report(value);
    }
}
