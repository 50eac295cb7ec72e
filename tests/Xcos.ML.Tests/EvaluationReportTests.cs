using System.Text.RegularExpressions;
using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xunit;

namespace Xcos.ML.Tests;

public class EvaluationReportTests
{
    private static (double[] Xcos, double[] Cos, bool[] Same) Scores(int n, int seed)
    {
        var rng = new Random(seed);
        var same = Enumerable.Range(0, n).Select(i => i % 2 == 0).ToArray();
        var xcos = same.Select(s => (s ? 0.5 : 0.1) + 0.45 * (rng.NextDouble() - 0.5) * 2).ToArray();
        var cos = same.Select(s => (s ? 0.45 : 0.15) + 0.3 * (rng.NextDouble() - 0.5) * 2).ToArray();
        return (xcos, cos, same);
    }

    private static ExplanationInput Figure(int i, double threshold, double[] xcos, double[] cos) => new()
    {
        Face1Rgb = Enumerable.Repeat((byte)(60 + i % 100), 112 * 112 * 3).ToArray(),
        Face2Rgb = Enumerable.Repeat((byte)(160 - i % 100), 112 * 112 * 3).ToArray(),
        CosMap = Enumerable.Range(0, 49).Select(k => (float)Math.Sin(k + i)).ToArray(),
        Attention = Enumerable.Repeat(1f / 49, 49).ToArray(),
        Score = xcos[i], Cosine = cos[i], Threshold = threshold, Title = "pair " + i,
    };

    [Fact]
    public void Write_ProducesIndexReferencingExistingDecodablePngs_AndListsTheWorstErrors()
    {
        var (xcos, cos, same) = Scores(60, 1);
        var dir = Path.Combine(Path.GetTempPath(), "xcos-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            var explained = new List<int>();
            var occlusion = new OcclusionResult([0, 0.15], [new OcclusionSeries("xcos", [0.9, 0.8], [0.01, 0.02]), new OcclusionSeries("cosine", [0.88, 0.7], [0.01, 0.03])], 60, 2, OcclusionFill.Black);
            var result = EvaluationReport.Write(dir, new EvaluationReportInput
            {
                XcosScores = xcos, CosineScores = cos, Same = same,
                PairNames = Enumerable.Range(0, 60).Select(i => $"a{i}.png | b{i}.png").ToArray(),
                Explain = (i, t) => { explained.Add(i); return Figure(i, t, xcos, cos); },
                Title = "Test <report>", Occlusion = occlusion,
            }, new EvaluationReportOptions { WorstCount = 3 });

            var index = Path.Combine(dir, "index.html");
            Assert.Equal(index, result.IndexPath);
            Assert.Equal(index, result.Files[^1]);
            var html = File.ReadAllText(index);
            Assert.Contains("Test &lt;report&gt;", html);
            var srcs = Regex.Matches(html, "<img src=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToArray();
            Assert.Contains("roc.png", srcs);
            Assert.Contains("hist_xcos.png", srcs);
            Assert.Contains("hist_cosine.png", srcs);
            Assert.Contains("occlusion.png", srcs);
            foreach (var src in srcs)
            {
                Assert.False(Path.IsPathRooted(src), src);
                var bytes = File.ReadAllBytes(Path.Combine(dir, src));
                var (_, w, h) = RgbPng.DecodeRgb(bytes, src);
                Assert.True(w >= 200 && h >= 150, $"{src} is {w}x{h}");
            }
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

            // the error lists: false accepts are different pairs above the threshold, highest first; rejects the reverse
            Assert.NotEmpty(result.FalseAccepts);
            Assert.NotEmpty(result.FalseRejects);
            Assert.All(result.FalseAccepts, i => Assert.True(!same[i] && xcos[i] > result.Threshold));
            Assert.All(result.FalseRejects, i => Assert.True(same[i] && xcos[i] <= result.Threshold));
            var worstFa = Enumerable.Range(0, 60).Where(i => !same[i]).MaxBy(i => xcos[i]);
            Assert.Equal(worstFa, result.FalseAccepts[0]);
            Assert.True(result.FalseAccepts.Count <= 3 && result.FalseRejects.Count <= 3);
            Assert.Equal(result.FalseAccepts.Concat(result.FalseRejects), explained);
            Assert.Equal(result.FalseAccepts.Count + result.FalseRejects.Count, srcs.Count(s => s.StartsWith("false_", StringComparison.Ordinal)));
            Assert.Contains($"a{worstFa}.png | b{worstFa}.png", html);

            // both metric columns, from the library's metrics
            Assert.Contains(result.Xcos.Auc.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture), html);
            Assert.Contains(result.Cosine.Auc.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture), html);
            Assert.True(File.Exists(Path.Combine(dir, "metrics.json")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Write_WithoutErrorsOrFigures_StillWritesAPage()
    {
        var same = Enumerable.Range(0, 20).Select(i => i % 2 == 0).ToArray();
        var xcos = same.Select((s, i) => s ? 0.8 + i * 0.001 : 0.1 + i * 0.001).ToArray();
        var dir = Path.Combine(Path.GetTempPath(), "xcos-report-" + Guid.NewGuid().ToString("N"));
        try
        {
            var r = EvaluationReport.Write(dir, new EvaluationReportInput { XcosScores = xcos, CosineScores = xcos, Same = same });
            Assert.Empty(r.FalseAccepts);
            Assert.Empty(r.FalseRejects);
            var html = File.ReadAllText(r.IndexPath);
            Assert.Contains("No false accepts.", html);
            Assert.DoesNotContain("false_accept", html);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Write_RejectsMismatchedInput()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xcos-report-" + Guid.NewGuid().ToString("N"));
        Assert.Throws<ArgumentException>(() => EvaluationReport.Write(dir, new EvaluationReportInput
        {
            XcosScores = [0.1, 0.2], CosineScores = [0.1], Same = [true, false],
        }));
        Assert.Throws<ArgumentException>(() => EvaluationReport.Write(dir, new EvaluationReportInput
        {
            XcosScores = [0.1, double.NaN], CosineScores = [0.1, 0.2], Same = [true, false],
        }));
        Assert.False(Directory.Exists(dir));
    }
}
