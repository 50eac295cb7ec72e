using System.CommandLine;
using System.Text.RegularExpressions;
using Xcos.Cli.Commands;

namespace Xcos.Cli.Tests;

/// <summary>
/// Every `xcos ...` command a message suggests (in a string of the sources) parses with the CLI's own parser: no
/// unknown command or option, no option without its value, no combination a command's validators refuse. A hint that
/// export refused (`--model` for `--face-model`) sent users in a circle (#23 smaller: hints).
/// </summary>
public partial class CliHintTests
{
    [GeneratedRegex(@"`(xcos [^`]+)`")]
    private static partial Regex Hint();

    [GeneratedRegex(@"\{[^{}]*\}")]
    private static partial Regex Hole();

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Xcos.ML.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Xcos.ML.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The hints in string literals (not comments) of src/, with where they are.</summary>
    public static TheoryData<string, string> Hints()
    {
        var data = new TheoryData<string, string>();
        var src = Path.Combine(RepoRoot(), "src");
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var rel = Path.GetRelativePath(src, file);
            if (rel.Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj")) continue;
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                var line = lines[i].TrimStart();
                if (line.StartsWith("//", StringComparison.Ordinal)) continue;
                foreach (Match m in Hint().Matches(line))
                    if (line.LastIndexOf('"', m.Index) >= 0) data.Add($"{rel}:{i + 1}", m.Groups[1].Value);
            }
        }
        return data;
    }

    [Fact]
    public void The_hints_are_found_including_the_int8_one()
    {
        var hints = Hints().Select(row => (string)row[1]).ToList();
        Assert.True(hints.Count >= 10, $"{hints.Count} hints");
        Assert.Contains(hints, h => h.StartsWith("xcos export ", StringComparison.Ordinal) && h.Contains("--precision int8", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Hints))]
    public void Each_hint_is_a_command_the_CLI_parses(string where, string hint)
    {
        // interpolation holes become a value; placeholders in capitals (PHOTOS, DIR) are values already
        var args = Hole().Replace(hint, "x").Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToArray();
        var root = new RootCommand();
        foreach (var c in CommandSet.All()) root.Subcommands.Add(c);
        // a hint may point at a command without all it needs ("create one with `xcos enroll`"); what it does give must parse
        var errors = root.Parse(args).Errors.Select(e => e.Message)
            .Where(m => !(m.StartsWith("Option '--", StringComparison.Ordinal) && m.EndsWith("' is required.", StringComparison.Ordinal))
                && !m.StartsWith("Required argument missing for command:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, $"{where}: `{hint}`: {string.Join("; ", errors)}");
    }

    [Fact]
    public void No_command_lists_an_option_twice()
    {
        // `xcos export --help` listed --models-dir twice: two options of one name, only one of which the parser fills.
        static IEnumerable<Command> Tree(Command c) => c.Subcommands.SelectMany(Tree).Prepend(c);
        var twice = CommandSet.All().SelectMany(Tree)
            .SelectMany(c => c.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Distinct().Select(name => (Command: c, name)))
            .GroupBy(x => x).Where(g => g.Count() > 1).Select(g => $"{g.Key.Command.Name} {g.Key.name}").ToList();
        Assert.True(twice.Count == 0, "options given twice: " + string.Join(", ", twice));
        var export = CommandSet.All().Single(c => c.Name == "export");
        Assert.Single(export.Options, o => o.Name == "--models-dir");
    }
}
