using System.CommandLine;
using Xcos.ML.Text;

namespace Xcos.Cli;

/// <summary>Reads an option whose text names an enum value, through that enum's one mapping.</summary>
internal static class EnumOption
{
    /// <summary>The value of <paramref name="option"/>; any other text is a usage error naming the option and the choices.</summary>
    public static T Parse<T>(ParseResult p, Option<string> option, EnumText<T> map) where T : struct, Enum
    {
        var text = p.GetValue(option);
        return map.TryParse(text, out var value) ? value
            : throw new CliException($"{option.Name} '{text}': expected {map.Expected}.", ExitCodes.Usage);
    }
}
