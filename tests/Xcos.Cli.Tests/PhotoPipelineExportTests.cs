using System.Globalization;
using System.Text.Json;

namespace Xcos.Cli.Tests;

/// <summary>
/// `xcos export --format mlnet` of the real face model, fitted on dev-faces photo pairs, scored by a process that
/// references Xcos.ML only, against `xcos verify` on the same photos.
/// </summary>
public class PhotoPipelineExportTests
{
    [CliDevFacesFact]
    public void ExportedPhotoPipelineScoresAsVerifyInAProcessWithoutTorchSharp()
    {
        var devFaces = DevFaces.Dir();
        Assert.True(devFaces is not null, "shared/dev-faces not found");
        var lines = File.ReadAllLines(Path.Combine(devFaces!, "pairs.tsv"));
        var same = lines.Skip(1).Where(l => l.EndsWith("\t1", StringComparison.Ordinal)).Take(5);
        var different = lines.Skip(1).Where(l => l.EndsWith("\t0", StringComparison.Ordinal)).Take(5);
        var dir = Directory.CreateTempSubdirectory("xcos_export_photos_").FullName;
        try
        {
            var fit = Path.Combine(dir, "fit.tsv");
            File.WriteAllLines(fit, same.Concat(different).Prepend(lines[0]));
            var zip = Path.Combine(dir, "fr_feature.zip");
            var (code, _, stderr) = CliProcess.Run("export", "--format", "mlnet", "--out", zip, "--pairs", fit, "--root", devFaces!);
            Assert.True(code == 0, stderr);

            var probe = lines.Skip(1).Where(l => l.Length > 0).Skip(40).Take(3).Select(l => l.Split('\t')).ToArray();
            var tsv = Path.Combine(dir, "score.tsv");
            File.WriteAllLines(tsv, probe.Select(f => $"{Path.Combine(devFaces!, f[0])}\t{Path.Combine(devFaces!, f[1])}").Prepend("ImagePath1\tImagePath2"));
            var (dc, stdout, dcErr) = DeployCheckProcess.Run(zip, tsv);
            Assert.True(dc == 0, dcErr);
            using var json = JsonDocument.Parse(stdout);
            Assert.False(json.RootElement.GetProperty("torchSharpLoaded").GetBoolean());
            var rows = json.RootElement.GetProperty("rows").EnumerateArray().ToArray();
            float F(JsonElement e, string name) => float.Parse(e.GetProperty(name).GetString()!, CultureInfo.InvariantCulture);
            for (int i = 0; i < probe.Length; i++)
            {
                float cosine = F(rows[i], "cosine"), threshold = cosine - F(rows[i], "score");
                var (vc, vout, verr) = CliProcess.Run("verify", Path.Combine(devFaces!, probe[i][0]), Path.Combine(devFaces!, probe[i][1]),
                    "--json", "--threshold", threshold.ToString("R", CultureInfo.InvariantCulture));
                Assert.True(vc == 0, verr);
                var v = JsonDocument.Parse(vout).RootElement;
                Assert.Equal(v.GetProperty("cosine").GetSingle(), cosine, 1e-4);
                Assert.Equal(v.GetProperty("score").GetSingle(), F(rows[i], "xcos"), 1e-4);
                Assert.Equal(v.GetProperty("same").GetBoolean(), rows[i].GetProperty("predictedLabel").GetBoolean());
                Assert.Equal("ok", rows[i].GetProperty("status").GetString());
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
