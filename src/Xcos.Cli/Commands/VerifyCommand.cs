using System.CommandLine;
using System.Globalization;
using Xcos.ML.Figures;
using Xcos.ML.Verification;

namespace Xcos.Cli.Commands;

/// <summary>
/// `xcos verify IMG1 IMG2`: score and explain one pair through the verification core. With --checkpoint the xCos network
/// decides on its own score; without it the real-photo path runs (detect, align, fr_feature or another ONNX model,
/// weight-derived or learned xCos) and the model's own cosine decides while xCos explains. A face that cannot be used is
/// reported with its status (JSON and one line on stderr) and exit code 1.
/// </summary>
internal static class VerifyCommand
{
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
            using var session = VerifierSession.Open(p, model, real, p.GetValue(aligned), p.GetValue(threshold));
            var r = session.Verifier.Verify(f1.FullName, f2.FullName);
            var figure = p.GetValue(explain);
            if (r.IsOk && figure is not null) ExplanationFigure.Save(figure.FullName, r.ToExplanationInput(f1.Name, f2.Name));
            if (p.GetValue(json)) Console.Out.WriteLine(r.ToJson());
            else if (r.IsOk) Print(r, figure);
            if (r.IsOk) return ExitCodes.Ok;
            // an unusable face is an answer about the input, not a crash, but scripts need to tell it apart
            Console.Error.WriteLine("xcos: " + r.FailureText);
            return ExitCodes.Failure;
        });
        return cmd;
    }

    private static void Print(FacePairVerification r, FileInfo? figure)
    {
        string verdict = r.Decision switch
        {
            VerificationDecision.Same => "same person",
            VerificationDecision.Different => "different people",
            _ => "undecided (no threshold)",
        };
        Console.WriteLine(r.DecidedBy == "cosine"
            ? $"{verdict}: cosine {r.Cosine:F4} vs threshold {r.Threshold:F3} (the model decides)   xCos {r.Xcos:F4} (explains)"
            : $"xCos {r.Xcos:F4}   cosine ({r.CosineSource}) {r.Cosine:F4}" + (r.Threshold is null ? "" : $"   {verdict} (threshold {r.Threshold:F3})"));
        foreach (var f in new[] { r.Face1, r.Face2 })
            if (f.Note is { } note) Console.WriteLine($"{f.Path}: {note}");
        Console.WriteLine(Matrix("patch cosine", r.CosMap!));
        Console.WriteLine(Matrix("attention", r.Attention!));
        if (r.Contributions is not null) Console.WriteLine(Matrix("contribution to the cosine", r.Contributions));
        if (figure is not null) Console.WriteLine($"figure: {figure.FullName}");
    }

    private static string Matrix(string title, float[] map)
    {
        var rows = FacePairVerification.Rows(map).Select(r => "  " + string.Join(" ", r.Select(v => v.ToString("+0.000;-0.000", CultureInfo.InvariantCulture))));
        return title + ":\n" + string.Join("\n", rows);
    }
}
