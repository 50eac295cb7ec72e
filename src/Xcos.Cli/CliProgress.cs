using Spectre.Console;

namespace Xcos.Cli;

/// <summary>Progress bars on stderr, so stdout stays clean for --json.</summary>
internal static class CliProgress
{
    private static readonly IAnsiConsole Err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    /// <summary>Runs <paramref name="work"/> with one bar of <paramref name="total"/> steps; the callback advances it.</summary>
    public static T Run<T>(string description, int total, Func<Action<int>, T> work)
    {
        T result = default!;
        Err.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(description, maxValue: Math.Max(1, total));
                result = work(n => task.Increment(n));
                task.Value = task.MaxValue;
            });
        return result;
    }
}
