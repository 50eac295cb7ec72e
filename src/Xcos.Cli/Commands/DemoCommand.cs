using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Xcos.ML.Torch.Demo;

using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// <c>xcos demo</c>: the whole product in one command with nothing to download (<see cref="DemoRunner"/>): synthetic
/// identities, training from scratch, evaluation on held-out identities, explanations, the HTML report, and the ML.NET
/// pipeline saved and reloaded.
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Output folder (data, training, figures, report, model .zip).", DefaultValueFactory = _ => "xcos-demo" };
        var minutes = new Option<double>("--minutes-budget") { Description = "Wall-clock budget in minutes; training stops early to keep it.", DefaultValueFactory = _ => 5 };
        var seed = new Option<int>("--seed") { Description = "Seed of data, initialisation and sampling.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int?>("--threads") { Description = "Threads (default: all cores)." };
        var identities = new Option<int?>("--identities") { Description = "Synthetic identities, trained and held out together (default 250)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the summary." };
        var cmd = new Command("demo", "Generate synthetic identities, train xCos from scratch, evaluate, explain and report (no download).")
        {
            output, minutes, seed, threads, identities, json,
        };
        cmd.SetAction(parse =>
        {
            var options = new DemoOptions
            {
                OutputDirectory = parse.GetValue(output)!, MinutesBudget = parse.GetValue(minutes), Seed = parse.GetValue(seed), Threads = parse.GetValue(threads),
            };
            if (parse.GetValue(identities) is int n) options = options with { Identities = n };
            DemoRunner runner;
            try { runner = new DemoRunner(options); }
            catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }

            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { if (!cts.IsCancellationRequested) { e.Cancel = true; cts.Cancel(); } };
            Console.CancelKeyPress += onCancel;
            DemoResult result;
            try { result = WithProgress(p => runner.Run(p, cts.Token)); }
            finally { Console.CancelKeyPress -= onCancel; }

            if (parse.GetValue(json)) { Cli.WriteJson(result); return ExitCodes.Ok; }
            Console.WriteLine(Summary(result));
            return ExitCodes.Ok;
        });
        return cmd;
    }

    /// <summary>The closing lines: where things are and the headline numbers.</summary>
    internal static string Summary(DemoResult r)
    {
        var s = new System.Text.StringBuilder();
        void L(FormattableString line) => s.AppendLine(line.ToString(CultureInfo.InvariantCulture));
        L($"xcos demo finished in {r.TotalSeconds:F0} s ({string.Join(", ", r.StageSeconds.Select(kv => $"{kv.Key.ToString().ToLowerInvariant()} {kv.Value:F0} s"))})");
        L($"trained {r.Architecture} from scratch on {r.TrainIdentities} synthetic identities: {r.Steps} steps, {r.Epochs} full epochs{(r.StoppedByBudget ? " (stopped by the time budget)" : "")}");
        L($"held-out evaluation: {r.Pairs} pairs of {r.HeldOutIdentities} identities never trained on, 10-fold protocol:");
        foreach (var m in new[] { r.Xcos, r.Cosine, r.PixelCosine })
            L($"  {m.Name,-13} accuracy {m.Accuracy:P2} ± {m.AccuracyStd:P2}   AUC {m.Auc:F4}   EER {m.Eer:P2}");
        L($"ML.NET EvaluateNonCalibrated of the fitted pipeline (threshold {r.MlNet.Threshold:F3} fitted on the same pairs): accuracy {r.MlNet.Accuracy:P2}, AUC {r.MlNet.Auc:F4}, F1 {r.MlNet.F1:F4}");
        L($"ML.NET pipeline saved to {r.ModelZipPath}; reloaded in a fresh MLContext, {r.ReloadedPairs} pairs scored again: max |score difference| {r.ReloadMaxDifference:G3}");
        L($"real faces: {r.RealFaces.Note}");
        foreach (var p in r.RealFaces.Pairs)
            L($"  {Path.GetFileName(p.Photo1)} vs {Path.GetFileName(p.Photo2)} ({(p.SameIdentity ? "same" : "different")} identity): {p.Verification.Status.ToText()}, faces found {p.Verification.Face1.FaceCount}/{p.Verification.Face2.FaceCount}{(p.Verification.IsOk ? $", cosine {p.Verification.Cosine:F3}, xCos {p.Verification.Xcos:F3}" : "")}{(p.Figure is null ? "" : $", figure {p.Figure}")}");
        L($"figures: {Path.GetDirectoryName(r.Figures.Count > 0 ? r.Figures[0] : r.OutputDirectory)} ({r.Figures.Count} files)");
        L($"report: {r.ReportPath}");
        return s.ToString();
    }

    /// <summary>One bar per stage on stderr; plain stage lines when stderr is redirected.</summary>
    private static DemoResult WithProgress(Func<IProgress<DemoProgress>, DemoResult> run)
    {
        if (Console.IsErrorRedirected)
        {
            DemoStage? last = null;
            return run(new Reporter(p =>
            {
                if (p.Stage == last) return;
                last = p.Stage;
                Console.Error.WriteLine($"xcos demo: {p.Stage.ToString().ToLowerInvariant()} ({p.Detail})");
            }));
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        DemoResult? result = null;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
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
