using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch;

namespace Xcos.Cli.Commands;

/// <summary>`xcos verify IMG1 IMG2`: score and explain one pair.</summary>
internal static class VerifyCommand
{
    public sealed record AlignedJson(
        [property: JsonPropertyName("score")] float Score,
        [property: JsonPropertyName("cosine")] float Cosine,
        [property: JsonPropertyName("cosine_source")] string CosineSource,
        [property: JsonPropertyName("threshold")] float? Threshold,
        [property: JsonPropertyName("same")] bool? Same,
        [property: JsonPropertyName("cos_map")] float[][] CosMap,
        [property: JsonPropertyName("attention")] float[][] Attention);

    public static Command Create()
    {
        var img1 = new Argument<FileInfo>("IMG1") { Description = "First face image" };
        var img2 = new Argument<FileInfo>("IMG2") { Description = "Second face image" };
        var model = new ModelArgs();
        var aligned = new Option<bool>("--aligned") { Description = "Inputs are already aligned 112x112 faces (no detection)" };
        var threshold = new Option<float?>("--threshold") { Description = "Decision threshold on the xCos score" };
        var explain = new Option<FileInfo?>("--explain") { Description = "Write the explanation figure (PNG) here" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("verify", "Score two faces with xCos and show which regions matched and which mattered") { img1, img2 };
        model.AddTo(cmd);
        foreach (var o in new Option[] { aligned, threshold, explain, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            if (!p.GetValue(aligned))
                throw new CliException("photos that need detection are not supported by this build yet: pass --aligned with 112x112 aligned faces.", ExitCodes.Usage);
            var a = LoadFace(p.GetValue(img1)!);
            var b = LoadFace(p.GetValue(img2)!);
            var (m, _) = model.Load(p);
            using var _m = m;
            var r = XcosScorer.Score(m, [(a, b)])[0];
            var t = p.GetValue(threshold);
            bool? same = t is null ? null : r.Score > t;
            if (p.GetValue(explain) is { } fig)
                ExplanationFigure.Save(fig.FullName, new ExplanationInput
                {
                    Face1Rgb = a.Pixels, Face2Rgb = b.Pixels, CosMap = r.CosMap, Attention = r.Attention,
                    Score = r.Score, Cosine = r.Cosine, Threshold = t ?? float.NaN, Same = same,
                    Face1Label = p.GetValue(img1)!.Name, Face2Label = p.GetValue(img2)!.Name,
                });
            if (p.GetValue(json))
                Cli.WriteJson(new AlignedJson(r.Score, r.Cosine, r.CosineSource, t, same, Grid(r.CosMap), Grid(r.Attention)));
            else
            {
                Console.WriteLine($"xCos {r.Score:F4}   cosine ({r.CosineSource}) {r.Cosine:F4}" + (same is null ? "" : $"   {(same.Value ? "same" : "different")} (threshold {t:F3})"));
                Console.WriteLine(Matrix("patch cosine", r.CosMap));
                Console.WriteLine(Matrix("attention", r.Attention));
                if (p.GetValue(explain) is { } f) Console.WriteLine($"figure: {f.FullName}");
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static RgbImage LoadFace(FileInfo file)
    {
        if (!file.Exists) throw new CliException($"{file.FullName}: image not found.");
        var img = ImageIO.Load(file.FullName);
        if (img.Width != 112 || img.Height != 112)
            throw new CliException($"{file.FullName}: --aligned expects a 112x112 aligned face, got {img.Width}x{img.Height}.");
        return img;
    }

    internal static float[][] Grid(float[] map)
    {
        int side = (int)Math.Round(Math.Sqrt(map.Length));
        return Enumerable.Range(0, side).Select(r => map[(r * side)..((r + 1) * side)]).ToArray();
    }

    private static string Matrix(string title, float[] map)
    {
        var rows = Grid(map).Select(r => "  " + string.Join(" ", r.Select(v => v.ToString("+0.000;-0.000"))));
        return title + ":\n" + string.Join("\n", rows);
    }
}
