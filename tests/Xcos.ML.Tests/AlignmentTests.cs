using System.Text.Json;
using Xcos.ML.Alignment;
using Xcos.ML.Images;
using Xunit;
using Xunit.Abstractions;

namespace Xcos.ML.Tests;

public class AlignmentTests
{
    private readonly ITestOutputHelper _out;
    public AlignmentTests(ITestOutputHelper output) => _out = output;

    private static JsonElement Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("align_cases.json")));
        return doc.RootElement.Clone();
    }

    private static (double X, double Y)[] Points(JsonElement arr) =>
        arr.EnumerateArray().Select(p => (p[0].GetDouble(), p[1].GetDouble())).ToArray();

    [Fact]
    public void TemplateMatchesFixture()
    {
        var t = Points(Cases().GetProperty("template_112"));
        Assert.Equal(5, t.Length);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(t[i].X, ArcFaceTemplate.Points112[i].X, 1e-9);
            Assert.Equal(t[i].Y, ArcFaceTemplate.Points112[i].Y, 1e-9);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void MatrixMatchesScikitImage(int n)
    {
        var c = Cases().GetProperty("cases")[n];
        var lm = Points(c.GetProperty("landmarks"));
        var expected = c.GetProperty("matrix");
        var m = SimilarityTransform.Estimate(lm, ArcFaceTemplate.Points112);
        double[] got = [m.M00, m.M01, m.M02, m.M10, m.M11, m.M12];
        double worst = 0;
        for (int i = 0; i < 6; i++) worst = Math.Max(worst, Math.Abs(expected[i / 3][i % 3].GetDouble() - got[i]));
        _out.WriteLine($"case {n}: max abs matrix difference {worst:E2}");
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 3; k++)
                Assert.True(Math.Abs(expected[r][k].GetDouble() - got[r * 3 + k]) < 1e-4,
                    $"case {n} m[{r},{k}]: expected {expected[r][k].GetDouble()}, got {got[r * 3 + k]}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void WarpMatchesOpenCv(int n)
    {
        var c = Cases().GetProperty("cases")[n];
        var src = ImageIO.Load(Fixtures.Path("align_source.png"));
        var expected = ImageIO.Load(Fixtures.Path($"align_expected_{n}.png"));
        var aligned = FaceAligner.Align(src, Points(c.GetProperty("landmarks")));
        Assert.Equal(112, aligned.Face.Width);
        Assert.Equal(112, aligned.Face.Height);
        int max = 0; long sum = 0;
        for (int i = 0; i < expected.Pixels.Length; i++)
        {
            int d = Math.Abs(expected.Pixels[i] - aligned.Face.Pixels[i]);
            max = Math.Max(max, d); sum += d;
        }
        double mean = (double)sum / expected.Pixels.Length;
        _out.WriteLine($"case {n}: max abs diff {max}, mean abs diff {mean:F5}");
        Assert.True(max <= 2, $"case {n}: max abs pixel difference {max} (mean {mean:F4})");
        Assert.True(mean < 0.01, $"case {n}: mean abs pixel difference {mean:F4}");
    }

    [Fact]
    public void InverseComposesToIdentity()
    {
        var m = new Affine2x3(0.7, -0.2, 13, 0.2, 0.7, -4);
        var p = m.Apply(31, 57);
        var q = m.Inverse().Apply(p.X, p.Y);
        Assert.Equal(31, q.X, 1e-9);
        Assert.Equal(57, q.Y, 1e-9);
        Assert.Throws<InvalidOperationException>(() => new Affine2x3(1, 2, 0, 2, 4, 0).Inverse());
    }

    [Fact]
    public void EstimateRecoversExactSimilarity()
    {
        double s = 1.7, a = 0.4;
        var truth = new Affine2x3(s * Math.Cos(a), -s * Math.Sin(a), 5, s * Math.Sin(a), s * Math.Cos(a), -9);
        var src = ArcFaceTemplate.Points112.ToArray();
        var dst = src.Select(p => truth.Apply(p.X, p.Y)).ToArray();
        var m = SimilarityTransform.Estimate(src, dst);
        Assert.Equal(truth.M00, m.M00, 1e-10); Assert.Equal(truth.M01, m.M01, 1e-10); Assert.Equal(truth.M02, m.M02, 1e-9);
        Assert.Equal(truth.M10, m.M10, 1e-10); Assert.Equal(truth.M11, m.M11, 1e-10); Assert.Equal(truth.M12, m.M12, 1e-9);
    }

    [Fact]
    public void WarpIdentityCopiesAndBordersAreBlack()
    {
        var px = new byte[4 * 3 * 3];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)(10 + i * 5);
        var img = new RgbImage(4, 3, px);
        Assert.Equal(px, AffineWarp.Warp(img, Affine2x3.Identity, 4, 3).Pixels);
        // Shift right by 2: the first two columns come from outside the source.
        var shifted = AffineWarp.Warp(img, new Affine2x3(1, 0, 2, 0, 1, 0), 4, 3);
        Assert.Equal(0, shifted[0, 1, 0]);
        Assert.Equal(0, shifted[1, 2, 2]);
        Assert.Equal(img[0, 1, 1], shifted[2, 1, 1]);
        // Half-pixel shift: OpenCV-style average of two neighbours.
        var half = AffineWarp.Warp(img, new Affine2x3(1, 0, -0.5, 0, 1, 0), 4, 3);
        Assert.Equal((img[0, 0, 0] + img[1, 0, 0] + 1) / 2, half[0, 0, 0]);
    }

    [Fact]
    public void FivePointsFromEyeCornersUsesCornerMidpoints()
    {
        var p = Enumerable.Range(0, 68).Select(i => ((double)i, (double)(100 + 2 * i))).ToArray();
        var five = Landmarks.FivePointsFromEyeCorners(p);
        Assert.Equal((37.5, 175.0), five[0]);
        Assert.Equal((43.5, 187.0), five[1]);
        Assert.Equal((30.0, 160.0), five[2]);
        Assert.Equal((48.0, 196.0), five[3]);
        Assert.Equal((54.0, 208.0), five[4]);
        Assert.Throws<ArgumentException>(() => Landmarks.FivePointsFromEyeCorners(p.Take(67).ToArray()));
    }

    [Fact]
    public void Align68MatchesAlign5()
    {
        var c = Cases().GetProperty("cases")[0];
        var five = Points(c.GetProperty("landmarks"));
        var p68 = new (double X, double Y)[68];
        for (int i = 0; i < 68; i++) p68[i] = (100 + i, 50 + i);
        p68[36] = (five[0].X - 4, five[0].Y + 1); p68[39] = (five[0].X + 4, five[0].Y - 1);
        p68[42] = (five[1].X - 3, five[1].Y); p68[45] = (five[1].X + 3, five[1].Y);
        p68[30] = five[2]; p68[48] = five[3]; p68[54] = five[4];
        var src = ImageIO.Load(Fixtures.Path("align_source.png"));
        var a = FaceAligner.Align(src, five);
        var b = FaceAligner.Align(src, p68);
        Assert.Equal(a.Matrix.M00, b.Matrix.M00, 1e-9);
        Assert.Equal(a.Face.Pixels, b.Face.Pixels);
    }

    [Fact]
    public void BadLandmarksAreRefused()
    {
        var img = new RgbImage(8, 8);
        var pts = ArcFaceTemplate.Points112.ToArray();
        pts[2] = (double.NaN, 3);
        var e = Assert.Throws<ArgumentException>(() => FaceAligner.Align(img, pts));
        Assert.Contains("not finite", e.Message);
        var same = Enumerable.Repeat((5.0, 5.0), 5).ToArray();
        Assert.Contains("degenerate", Assert.Throws<ArgumentException>(() => FaceAligner.Align(img, same)).Message);
        Assert.Throws<ArgumentException>(() => FaceAligner.Align(img, pts.Take(4).ToArray()));
    }
}
