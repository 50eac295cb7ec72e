using System.CommandLine;

namespace Xcos.Cli.Commands;

/// <summary>Every `xcos` subcommand, in the order `--help` lists them.</summary>
internal static class CommandSet
{
    public static IEnumerable<Command> All()
    {
        yield return SynthCommand.Create();
        yield return TrainCommand.Create();
    }
}
