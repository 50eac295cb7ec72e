using System.CommandLine;
using Xcos.ML.Gallery;

namespace Xcos.Cli.Commands;

/// <summary>`xcos gallery salvage --gallery G`: rebuilds a damaged gallery file from every record whose checksums hold.</summary>
internal static class GalleryCommand
{
    public static Command Create()
    {
        var gallery = new Option<FileInfo>("--gallery") { Description = "The damaged gallery file", Required = true };
        var salvage = new Command("salvage", "Keep every record whose checksums hold; the damaged file is kept as <gallery>.damaged");
        salvage.Options.Add(gallery);
        salvage.SetAction(p =>
        {
            var file = p.GetValue(gallery)!;
            if (!file.Exists) throw new CliException($"{file.FullName}: no gallery file.");
            var r = FaceGallery.Salvage(file.FullName);
            Console.WriteLine($"salvaged {file.FullName}: {r.Faces} faces kept, {r.Removals} removal(s) kept; skipped {r.DamagedRanges} damaged stretch(es) " +
                $"({r.DamagedBytes} bytes); the damaged file is kept as {r.DamagedCopy}");
            return ExitCodes.Ok;
        });
        var cmd = new Command("gallery", "Maintain a gallery file");
        cmd.Subcommands.Add(salvage);
        return cmd;
    }
}
