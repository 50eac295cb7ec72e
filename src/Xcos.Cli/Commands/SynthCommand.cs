using System.CommandLine;
using Xcos.ML.Data.Synthetic;

namespace Xcos.Cli.Commands;

/// <summary><c>xcos synth</c>: writes a synthetic face-identity data set (train/, val/, val_pairs.tsv, landmarks.tsv).</summary>
public static class SynthCommand
{
    // What WriteImageFolder writes; --force deletes exactly these.
    private static readonly string[] Outputs = ["train", "val", "val_pairs.tsv", "landmarks.tsv"];

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Output folder (created).", Required = true };
        var identities = new Option<int>("--identities") { Description = "Identities, training and held-out together.", DefaultValueFactory = _ => 100 };
        var perIdentity = new Option<int>("--images-per-identity") { Description = "Images per identity.", DefaultValueFactory = _ => 20 };
        var seed = new Option<int>("--seed") { Description = "Seed; same seed, same bytes.", DefaultValueFactory = _ => 0 };
        var nuisance = new Option<double>("--nuisance") { Description = "Nuisance strength 0..2 (pose, light, occluders...).", DefaultValueFactory = _ => 1.0 };
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction of identities held out for validation.", DefaultValueFactory = _ => 0.2 };
        var valPairs = new Option<int>("--val-pairs") { Description = "Validation pairs (half same).", DefaultValueFactory = _ => 600 };
        var size = new Option<int>("--size") { Description = "Image side in pixels.", DefaultValueFactory = _ => 112 };
        var force = new Option<bool>("--force") { Description = "Replace the data set already in --out (its train/, val/ and .tsv files)." };
        var cmd = new Command("synth", "Write a synthetic face-identity data set (image folder + validation pairs).")
        {
            output, identities, perIdentity, seed, nuisance, valFraction, valPairs, size, force,
        };
        cmd.SetAction(parse =>
        {
            var options = new SyntheticFacesOptions
            {
                Identities = parse.GetValue(identities), ImagesPerIdentity = parse.GetValue(perIdentity), Seed = parse.GetValue(seed),
                NuisanceStrength = parse.GetValue(nuisance), ValidationFraction = parse.GetValue(valFraction),
                ValidationPairs = parse.GetValue(valPairs), ImageSize = parse.GetValue(size),
            };
            SyntheticFaces faces;
            try { faces = new SyntheticFaces(options); }
            catch (ArgumentOutOfRangeException e) { throw new CliException(e.Message.ReplaceLineEndings(" "), ExitCodes.Usage); }
            string dir = Path.GetFullPath(parse.GetValue(output)!);
            if (File.Exists(dir)) throw new CliException($"--out {dir}: is a file; expected a folder.");
            // a second seed written over a first mixes their images under the same names and pairs
            var existing = Outputs.Select(o => Path.Combine(dir, o)).Where(p => File.Exists(p) || Directory.Exists(p)).ToArray();
            if (existing.Length > 0)
            {
                if (!parse.GetValue(force))
                {
                    int images = existing.Where(Directory.Exists).Sum(d => Directory.EnumerateFiles(d, "*.png", SearchOption.AllDirectories).Count());
                    throw new CliException($"{dir} already holds a data set ({images} images; {string.Join(", ", existing.Select(Path.GetFileName))}): choose another --out, or replace it with --force.");
                }
                foreach (var p in existing)
                    if (Directory.Exists(p)) Directory.Delete(p, recursive: true); else File.Delete(p);
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            faces.WriteImageFolder(dir);
            Cli.WriteJson(new
            {
                @out = dir, train = Path.Combine(dir, "train"), valPairs = Path.Combine(dir, "val_pairs.tsv"),
                trainIdentities = faces.TrainIdentities, validationIdentities = faces.ValidationIdentities,
                images = options.Identities * options.ImagesPerIdentity, pairs = faces.ValidationPairs().Count,
                seconds = Math.Round(clock.Elapsed.TotalSeconds, 2),
            }, Cli.JsonDeclaredNames);
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
