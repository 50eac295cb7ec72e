using System.CommandLine;

namespace Xcos.Cli.Commands;

/// <summary>Every `xcos` subcommand, in the order `--help` lists them (the data path: make data, train, evaluate, explain).</summary>
internal static class CommandSet
{
    public static IEnumerable<Command> All() => Commands().Select(OptionRules.Apply);

    private static IEnumerable<Command> Commands()
    {
        yield return DemoCommand.Create();
        yield return SynthCommand.Create();
        yield return TrainCommand.Create();
        yield return EvalCommand.Create();
        yield return VerifyCommand.Create();
        yield return EnrollCommand.Create();
        yield return IdentifyCommand.Create();
        yield return GalleryCommand.Create();
        yield return ServeCommand.Create();
        yield return FaithfulnessCommand.Create();
        yield return MaskCommand.Create();
        yield return OcclusionCommand.Create();
        yield return ExportCommand.Create();
        yield return InspectCommand.Create();
        yield return BenchCommand.Create();
        yield return GalleryBenchCommand.Create();
        yield return ModelsCommand.Create();
    }
}
