using System.CommandLine;
using Xcos.ML.Data;
using Xcos.ML.Explain;

namespace Xcos.Cli.Commands;

/// <summary><c>xcos mask</c>: a masked copy of an image folder (random blobs over a fraction of each face), for
/// training with occluded faces as the original's masked CASIA.</summary>
public static class MaskCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Image folder DIR/<identity>/<image> of aligned faces.", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder (same layout, PNG images).", Required = true };
        var fraction = new Option<double>("--fraction") { Description = "Fraction of each face covered, 0..1 (0.25 = imgs_masked25).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed of the masks.", DefaultValueFactory = _ => 0 };
        var cmd = new Command("mask", "Write a masked copy of an image folder (blobs covering a fraction of every face).") { data, output, fraction, seed };
        cmd.SetAction(p =>
        {
            double f = p.GetValue(fraction);
            if (f is < 0 or > 1 || double.IsNaN(f)) throw new CliException($"--fraction {f}: expected a value in [0, 1].", ExitCodes.Usage);
            var source = ImageFolder.Load(p.GetValue(data)!);
            int n = MaskedFaces.WriteMaskedCopy(source, p.GetValue(output)!, f, p.GetValue(seed), OcclusionFill.Black);
            Cli.WriteJson(new { images = n, fraction = f, output = Path.GetFullPath(p.GetValue(output)!) });
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
