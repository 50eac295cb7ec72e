using System.CommandLine;
using System.CommandLine.Parsing;

namespace Xcos.Cli;

/// <summary>
/// Range rules for the numeric options every command shares by name, checked while parsing so that a bad value is a
/// usage error (exit 2) naming the option, not a failure deep inside (e.g. "Non-negative number required").
/// </summary>
internal static class OptionRules
{
    // Counts and sizes: zero or less has no meaning for any of them.
    private static readonly HashSet<string> Positive = new(StringComparer.Ordinal)
    {
        "--max-pairs", "--epochs", "--batch", "--batch-size", "--threads", "--identities", "--images-per-identity",
        "--val-pairs", "--size", "--depth", "--target-depth", "--patches-per-step", "--random-orders", "--seconds",
    };

    /// <summary>Adds the rules to <paramref name="command"/>'s options and those of its subcommands.</summary>
    public static Command Apply(Command command)
    {
        foreach (var option in command.Options)
            if (Positive.Contains(option.Name)) AddPositive(option);
        foreach (var sub in command.Subcommands) Apply(sub);
        return command;
    }

    private static void AddPositive(Option option)
    {
        switch (option)
        {
            case Option<int> o: o.Validators.Add(r => Check(r, o.Name, r.GetValueOrDefault<int>(), v => v >= 1)); break;
            case Option<int?> o: o.Validators.Add(r => Check(r, o.Name, r.GetValueOrDefault<int?>(), v => v is null or >= 1)); break;
            case Option<double> o: o.Validators.Add(r => Check(r, o.Name, r.GetValueOrDefault<double>(), v => v > 0 && double.IsFinite(v))); break;
            case Option<double?> o: o.Validators.Add(r => Check(r, o.Name, r.GetValueOrDefault<double?>(), v => v is null || (v > 0 && double.IsFinite(v.Value)))); break;
        }
    }

    private static void Check<T>(OptionResult result, string name, T value, Func<T, bool> ok)
    {
        if (!ok(value)) result.AddError($"{name} {value}: expected a positive number.");
    }
}
