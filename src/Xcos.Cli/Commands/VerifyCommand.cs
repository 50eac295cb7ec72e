using System.CommandLine;
using System.Text.Json.Serialization;
using Xcos.ML.FaceModels;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos verify IMG1 IMG2`: score and explain one pair. With --checkpoint the xCos network decides on its own score;
/// without it the real-photo path runs (detect, align, fr_feature or another ONNX model, weight-derived xCos) and the
/// model's own cosine decides while xCos explains.
/// </summary>
internal static class VerifyCommand
{
    public sealed record CheckpointJson(
        [property: JsonPropertyName("score")] float Score,
        [property: JsonPropertyName("cosine")] float Cosine,
        [property: JsonPropertyName("cosine_source")] string CosineSource,
        [property: JsonPropertyName("decision")] string Decision,
        [property: JsonPropertyName("threshold")] float? Threshold,
        [property: JsonPropertyName("same")] bool? Same,
        [property: JsonPropertyName("cos_map")] float[][] CosMap,
        [property: JsonPropertyName("attention")] float[][] Attention,
        [property: JsonPropertyName("faces")] FaceJson[]? Faces);

    public sealed record FaceJson(
        [property: JsonPropertyName("path")] string Path,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("face_count")] int FaceCount,
        [property: JsonPropertyName("box")] float[]? Box,
        [property: JsonPropertyName("detection_score")] float? DetectionScore,
        [property: JsonPropertyName("landmarks")] double[][]? Landmarks);

    public sealed record PhotoJson(
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("score")] double? Score,
        [property: JsonPropertyName("cosine")] double? Cosine,
        [property: JsonPropertyName("decision")] string Decision,
        [property: JsonPropertyName("same")] bool Same,
        [property: JsonPropertyName("threshold")] double Threshold,
        [property: JsonPropertyName("cos_map")] float[][]? CosMap,
        [property: JsonPropertyName("attention")] float[][]? Attention,
        [property: JsonPropertyName("contributions")] float[][]? Contributions,
        [property: JsonPropertyName("bias_contribution")] double? BiasContribution,
        [property: JsonPropertyName("faces")] FaceJson[] Faces,
        [property: JsonPropertyName("milliseconds")] double Milliseconds,
        [property: JsonPropertyName("xcos_variant")] string XcosVariant);

    public static Command Create()
    {
        var img1 = new Argument<FileInfo>("IMG1") { Description = "First face image or photo" };
        var img2 = new Argument<FileInfo>("IMG2") { Description = "Second face image or photo" };
        var model = new ModelArgs();
        var real = new RealFaceArgs();
        var aligned = new Option<bool>("--aligned") { Description = "Inputs are already aligned 112x112 faces (no detection)" };
        var threshold = new Option<float?>("--threshold") { Description = "Decision threshold (default: the descriptor's for ONNX models; none for checkpoints)" };
        var explain = new Option<FileInfo?>("--explain") { Description = "Write the explanation figure (PNG) here" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("verify", "Score two faces and show which regions matched and which mattered") { img1, img2 };
        model.AddTo(cmd);
        real.AddTo(cmd);
        foreach (var o in new Option[] { aligned, threshold, explain, json }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var f1 = p.GetValue(img1)!;
            var f2 = p.GetValue(img2)!;
            foreach (var f in new[] { f1, f2 })
            {
                if (Directory.Exists(f.FullName)) throw new CliException($"{f.FullName}: is a directory, not an image file.");
                if (!f.Exists) throw new CliException($"{f.FullName}: image not found.");
            }
            if (p.GetValue(model.Checkpoint) is not null) real.RejectInt8(p);
            return p.GetValue(model.Checkpoint) is null
                ? VerifyPhotos(p, real, f1, f2, p.GetValue(threshold), p.GetValue(explain), p.GetValue(json), p.GetValue(model.Threads) ?? 0)
                : VerifyCheckpoint(p, model, real, f1, f2, p.GetValue(aligned), p.GetValue(threshold), p.GetValue(explain), p.GetValue(json));
        });
        return cmd;
    }

    private static int VerifyCheckpoint(ParseResult p, ModelArgs model, RealFaceArgs real, FileInfo f1, FileInfo f2, bool aligned,
        float? threshold, FileInfo? explain, bool json)
    {
        RgbImage a, b;
        FaceJson[]? faces = null;
        if (aligned)
        {
            a = LoadAligned(f1);
            b = LoadAligned(f2);
        }
        else
        {
            using var detector = real.CreateDetector(p);
            var photos = new[] { ImageIO.Load(f1.FullName), ImageIO.Load(f2.FullName) };
            var found = photos.Select(detector.DetectAndAlign).ToArray();
            var dets = found.Select(d => d.Detection).ToArray();
            faces = dets.Select((d, i) => Face(i == 0 ? f1.FullName : f2.FullName, d.Primary is null ? "no_face" : "ok", d.FaceCount,
                d.Primary?.Box, d.Primary?.Score, d.Primary?.Landmarks5.Select(q => new[] { q.X, q.Y }).ToArray())).ToArray();
            if (dets.Any(d => d.Primary is null))
                throw new CliException($"no face found in {string.Join(" and ", faces.Where(f => f.Status != "ok").Select(f => f.Path))}.");
            a = found[0].Face!;
            b = found[1].Face!;
        }
        var (m, _) = model.Load(p);
        using var _m = m;
        var r = XcosScorer.Score(m, [(a, b)])[0];
        bool? same = threshold is null ? null : r.Score > threshold;
        if (explain is not null)
            ExplanationFigure.Save(explain.FullName, new ExplanationInput
            {
                Face1Rgb = a.Pixels, Face2Rgb = b.Pixels, CosMap = r.CosMap, Attention = r.Attention,
                Score = r.Score, Cosine = r.Cosine, Threshold = threshold ?? double.NaN, Same = same,
                Face1Label = f1.Name, Face2Label = f2.Name,
            });
        if (json)
            Cli.WriteJson(new CheckpointJson(r.Score, r.Cosine, r.CosineSource, "xcos", threshold, same, Grid(r.CosMap), Grid(r.Attention), faces));
        else
        {
            Console.WriteLine($"xCos {r.Score:F4}   cosine ({r.CosineSource}) {r.Cosine:F4}" + (same is null ? "" : $"   {(same.Value ? "same" : "different")} (threshold {threshold:F3})"));
            WriteFaceChoices(faces);
            Console.WriteLine(Matrix("patch cosine", r.CosMap));
            Console.WriteLine(Matrix("attention", r.Attention));
            if (explain is not null) Console.WriteLine($"figure: {explain.FullName}");
        }
        return ExitCodes.Ok;
    }

    private static int VerifyPhotos(ParseResult p, RealFaceArgs real, FileInfo f1, FileInfo f2, float? threshold, FileInfo? explain, bool json, int threads)
    {
        using var verifier = real.CreateVerifier(p, threshold, threads);
        var (r, a, b) = verifier.VerifyDetailed(ImageIO.Load(f1.FullName), ImageIO.Load(f2.FullName), f1.FullName, f2.FullName);
        var faces = new[] { r.Face1, r.Face2 }.Select(f => Face(f.Path, f.Status, f.FaceCount, f.Box, f.DetectionScore, f.Landmarks)).ToArray();
        if (r.Status == "ok" && explain is not null)
            ExplanationFigure.Save(explain.FullName, new ExplanationInput
            {
                Face1Rgb = a!.Pixels, Face1Width = a.Width, Face1Height = a.Height, Face2Rgb = b!.Pixels, Face2Width = b.Width, Face2Height = b.Height,
                CosMap = r.CosMap!, Attention = r.Attention!, Score = r.Score!.Value, Cosine = r.Cosine!.Value, Threshold = r.Threshold, Same = r.Same,
                Face1Label = f1.Name, Face2Label = f2.Name, ExtraMap = r.Contributions, ExtraMapTitle = "Contribution to the cosine",
                Title = $"The model's cosine decides; xCos explains it ({verifier.XcosVariant})",
            });
        if (json)
            Cli.WriteJson(new PhotoJson(r.Status, r.Score, r.Cosine, r.Decision, r.Same, r.Threshold,
                r.CosMap is null ? null : Grid(r.CosMap), r.Attention is null ? null : Grid(r.Attention),
                r.Contributions is null ? null : Grid(r.Contributions), r.BiasContribution, faces, r.Milliseconds, verifier.XcosVariant));
        else if (r.Status != "ok")
            Console.WriteLine($"no face found in {string.Join(" and ", faces.Where(f => f.Status != "ok").Select(f => f.Path))}");
        else
        {
            Console.WriteLine($"{(r.Same ? "same person" : "different people")}: cosine {r.Cosine:F4} vs threshold {r.Threshold:F3} (the model decides)   xCos {r.Score:F4} (explains; {verifier.XcosVariant})");
            WriteFaceChoices(faces);
            Console.WriteLine(Matrix("patch cosine", r.CosMap!));
            Console.WriteLine(Matrix("attention", r.Attention!));
            Console.WriteLine(Matrix("contribution to the cosine", r.Contributions!));
            if (explain is not null) Console.WriteLine($"figure: {explain.FullName}");
        }
        // no face is an answer about the input, not a failure of the tool, but scripts need to tell it apart
        return r.Status == "ok" ? ExitCodes.Ok : ExitCodes.Failure;
    }

    // A photo with several faces is scored on one of them; the text says which, as the JSON's face_count and box do.
    internal static void WriteFaceChoices(IEnumerable<FaceJson>? faces)
    {
        foreach (var f in faces ?? [])
            if (f.FaceCount > 1 && f.Box is { } b)
                Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{System.IO.Path.GetFileName(f.Path)}: {f.FaceCount} faces found; used the largest, box ({b[0]:F0},{b[1]:F0})-({b[2]:F0},{b[3]:F0}), detection score {f.DetectionScore:F2}"));
    }

    private static FaceJson Face(string path, string status, int count, FaceBox? box, float? score, double[][]? landmarks) =>
        new(path, status, count, box is { } b ? [b.X1, b.Y1, b.X2, b.Y2] : null, score, landmarks);

    private static RgbImage LoadAligned(FileInfo file)
    {
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
