using System.CommandLine;

namespace Xcos.Cli.Commands;

/// <summary>Every `xcos` subcommand, in the order `--help` lists them.</summary>
internal static class CommandSet
{
    public static IEnumerable<Command> All()
    {
        yield return VerifyCommand.Create();
        yield return BenchCommand.Create();
        yield return EvalCommand.Create();
        yield return FaithfulnessCommand.Create();
        yield return ModelsCommand.Create();
    }
}
