using Xcos.ML.Explain;
using Xcos.ML.Images;
using Xunit;

namespace Xcos.ML.Tests;

public class FaithfulnessCurveTests
{
    [Fact]
    public void Auc_OfHandMadeCurves_IsTheTrapezoidMeanOverX()
    {
        Assert.Equal(0.5, FaithfulnessCurves.Auc([1.0, 0.5, 0.0]), 12);
        // steps of 0.25: 0.25*1 + 0.25*(1+0)/2 = 0.375
        Assert.Equal(0.375, FaithfulnessCurves.Auc([1.0, 1.0, 0.0, 0.0, 0.0]), 12);
        // uneven x: only the first tenth carries area
        Assert.Equal(0.05, FaithfulnessCurves.Auc([0.0, 0.1, 1.0], [1.0, 0.0, 0.0]), 12);
        // normalised by the x range: a constant curve has its constant as AUC whatever the range
        Assert.Equal(-0.3, FaithfulnessCurves.Auc([2.0, 5.0, 6.0], [-0.3, -0.3, -0.3]), 12);
        var c = new FaithfulnessCurve("m", FaithfulnessKind.Deletion, "xcos", [0, 0.5, 1], [0.8, 0.4, 0.2]);
        Assert.Equal((0.5 * 1.2 / 2 + 0.5 * 0.6 / 2), c.Auc, 12);
    }

    [Fact]
    public void Auc_RejectsBadCurves()
    {
        Assert.Throws<ArgumentException>(() => FaithfulnessCurves.Auc([1.0]));
        Assert.Throws<ArgumentException>(() => FaithfulnessCurves.Auc([0.0, 0.5, 0.5], [1.0, 1, 1]));
        Assert.Throws<ArgumentException>(() => FaithfulnessCurves.Auc([0.0, 1.0], [1.0, double.NaN]));
        Assert.Throws<ArgumentException>(() => FaithfulnessCurves.Auc([0.0, 1.0], [1.0]));
    }

    [Fact]
    public void Orders_DescendingIsStableAndRandomIsASeededPermutation()
    {
        Assert.Equal([2, 0, 3, 1], FaithfulnessCurves.Descending([0.5f, -1f, 2f, 0.5f]));
        Assert.Throws<ArgumentException>(() => FaithfulnessCurves.Descending([0f, float.NaN]));
        var a = FaithfulnessCurves.RandomOrder(49, 7);
        Assert.Equal(a, FaithfulnessCurves.RandomOrder(49, 7));
        Assert.NotEqual(a, FaithfulnessCurves.RandomOrder(49, 8));
        Assert.Equal(Enumerable.Range(0, 49), a.Order());
        Assert.Equal([0, 2.0 / 5, 4.0 / 5, 1], FaithfulnessCurves.Fractions(5, 2));
    }

    [Fact]
    public void Patches_CompositeReplacesExactlyTheChosenCells()
    {
        var face = PatternFace(112, 7);
        var fill = FaithfulnessPatches.MeanColor(face);
        Assert.Equal((16, 32, 32, 48), FaithfulnessPatches.CellRect(112, 112, 7, 15));
        var use = new bool[49];
        use[15] = true;
        var c = FaithfulnessPatches.Composite(face, fill, use, 7);
        for (int y = 0; y < 112; y++)
            for (int x = 0; x < 112; x++)
            {
                bool inCell = x >= 16 && x < 32 && y >= 32 && y < 48;
                for (int ch = 0; ch < 3; ch++)
                    Assert.Equal(inCell ? fill[x, y, ch] : face[x, y, ch], c[x, y, ch]);
            }
        // a constant image stays constant under blur
        var flat = new RgbImage(20, 20, Enumerable.Repeat((byte)77, 1200).ToArray());
        Assert.All(FaithfulnessPatches.Blur(flat, 3).Pixels, v => Assert.Equal(77, v));
        Assert.NotEqual(face.Pixels, FaithfulnessPatches.Blur(face, 4).Pixels);
    }

    [Theory]
    [InlineData(1, PatchFill.MeanColor, 1)]
    [InlineData(2, PatchFill.MeanColor, 1)]
    [InlineData(1, PatchFill.Blur, 3)]
    public void Deletion_WithTheOracleOrder_BeatsRandom_AndTheReverseOrderLoses(int faceIndex, PatchFill fill, int perStep)
    {
        const int grid = 7, size = 56;
        var rng = new Random(3);
        var weights = Enumerable.Range(0, grid * grid).Select(_ => (float)rng.NextDouble()).ToArray();
        var face = PatternFace(size, grid);
        var other = PatternFace(size, grid, phase: 5);
        var scorer = new CellDetailScorer(face, other, faceIndex, grid, weights).WithFill(fill, 4);
        var explanations = new[]
        {
            new PatchExplanation("oracle", weights),
            new PatchExplanation("reverse", weights.Select(w => -w).ToArray()),
        };
        var o = new FaithfulnessOptions { Grid = grid, Face = faceIndex, Fill = fill, BlurRadius = 4, PatchesPerStep = perStep, RandomOrders = 4, Seed = 11 };
        var result = faceIndex == 1
            ? Faithfulness.Evaluate(scorer, face, other, explanations, o)
            : Faithfulness.Evaluate(scorer, other, face, explanations, o);

        var oracle = result.Find("oracle", FaithfulnessKind.Deletion, "detail")!;
        var random = result.Find("random", FaithfulnessKind.Deletion, "detail")!;
        var reverse = result.Find("reverse", FaithfulnessKind.Deletion, "detail")!;
        Assert.Equal(FaithfulnessCurves.Steps(49, perStep) + 1, oracle.Scores.Length);
        // deletion starts at the intact score and ends with nothing left
        Assert.Equal(weights.Sum(), oracle.Scores[0], 3);
        Assert.Equal(scorer.Floor, oracle.Scores[^1], 3);
        Assert.True(oracle.Auc < random.Auc && random.Auc < reverse.Auc, $"deletion AUCs oracle {oracle.Auc}, random {random.Auc}, reverse {reverse.Auc}");

        var iOracle = result.Find("oracle", FaithfulnessKind.Insertion, "detail")!;
        var iRandom = result.Find("random", FaithfulnessKind.Insertion, "detail")!;
        var iReverse = result.Find("reverse", FaithfulnessKind.Insertion, "detail")!;
        Assert.Equal(scorer.Floor, iOracle.Scores[0], 3);
        Assert.Equal(weights.Sum(), iOracle.Scores[^1], 3);
        Assert.True(iOracle.Auc > iRandom.Auc && iRandom.Auc > iReverse.Auc, $"insertion AUCs oracle {iOracle.Auc}, random {iRandom.Auc}, reverse {iReverse.Auc}");

        // every score the scorer names gets curves; the second one is the negation
        Assert.Equal(-oracle.Auc, result.Find("oracle", FaithfulnessKind.Deletion, "negated")!.Auc, 9);

        var summary = FaithfulnessSummary.From([result, result]);
        Assert.Equal(2, summary.Pairs);
        Assert.Equal(oracle.Auc, summary.Auc("oracle", FaithfulnessKind.Deletion, "detail"), 12);
        Assert.Equal(["oracle", "reverse", "random"], summary.Methods);
    }

    [Fact]
    public void Faithfulness_RejectsMisShapedExplanations()
    {
        var face = PatternFace(56, 7);
        var scorer = new CellDetailScorer(face, face, 1, 7, new float[49]);
        Assert.Throws<ArgumentException>(() => Faithfulness.Evaluate(scorer, face, face, [new PatchExplanation("x", new float[48])]));
        Assert.Throws<ArgumentException>(() => Faithfulness.Evaluate(scorer, face, face, [new PatchExplanation("random", new float[49])]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Faithfulness.Evaluate(scorer, face, face, [], new FaithfulnessOptions { Face = 3 }));
    }

    [Fact]
    public void GradCam_FromGradient_WeightsChannelsByTheirMeanGradientAndClampsAtZero()
    {
        // two channels of a 2x2 map
        float[] map = [1, 2, 3, 4, /**/ 4, 0, 0, -8];
        float[] grad = [1, 1, 1, 1, /**/ -1, 0, 0, 0]; // weights 1 and -0.25
        var cam = GradCam.FromGradient(map, grad, 2, 2, 2);
        Assert.Equal([0f, 2f, 3f, 6f], cam);
        Assert.Throws<ArgumentException>(() => GradCam.FromGradient(map, grad.AsSpan(1), 2, 2, 2));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    [InlineData(0.15)]
    [InlineData(0.25)]
    [InlineData(0.35)]
    [InlineData(1.0)]
    public void OcclusionMasks_CoverTheRequestedFraction_AreSeededAndNested(double fraction)
    {
        const int w = 112, h = 112;
        var m = OcclusionMasks.Blobs(w, h, fraction, seed: 5);
        int covered = m.Count(v => v);
        Assert.InRange(covered, fraction * w * h - 1, fraction * w * h + 1);
        Assert.Equal(m, OcclusionMasks.Blobs(w, h, fraction, seed: 5));
        if (fraction is > 0 and < 1) Assert.NotEqual(m, OcclusionMasks.Blobs(w, h, fraction, seed: 6));
        var smaller = OcclusionMasks.Blobs(w, h, fraction / 2, seed: 5);
        for (int i = 0; i < m.Length; i++) Assert.True(!smaller[i] || m[i], $"pixel {i} masked at {fraction / 2} but not at {fraction}");
        Assert.Throws<ArgumentOutOfRangeException>(() => OcclusionMasks.Blobs(w, h, 1.5, 0));
    }

    [Fact]
    public void OcclusionMasks_AreBlobs_NotScatteredPixels()
    {
        const int w = 112, h = 112;
        var m = OcclusionMasks.Blobs(w, h, 0.15, seed: 1);
        // most masked pixels have all four neighbours masked too
        int inner = 0, total = 0;
        for (int y = 1; y < h - 1; y++)
            for (int x = 1; x < w - 1; x++)
            {
                if (!m[y * w + x]) continue;
                total++;
                if (m[y * w + x - 1] && m[y * w + x + 1] && m[(y - 1) * w + x] && m[(y + 1) * w + x]) inner++;
            }
        Assert.True(inner > 0.7 * total, $"{inner} of {total} masked pixels are interior");
        var face = PatternFace(w, 7);
        var black = OcclusionMasks.Apply(face, m);
        for (int i = 0; i < m.Length; i++)
            for (int c = 0; c < 3; c++)
                Assert.Equal(m[i] ? 0 : face.Pixels[i * 3 + c], black.Pixels[i * 3 + c]);
    }

    [Fact]
    public void OcclusionRobustness_AccuracyFallsWithOcclusion_ForAPixelMatchingScorer()
    {
        // 40 pairs of 28x28 faces: same pairs are one random image twice, different pairs two images.
        var rng = new Random(2);
        RgbImage Rand() { var p = new byte[28 * 28 * 3]; rng.NextBytes(p); return new RgbImage(28, 28, p); }
        var f1 = new List<RgbImage>(); var f2 = new List<RgbImage>(); var same = new List<bool>();
        for (int i = 0; i < 40; i++)
        {
            var a = Rand();
            bool s = i % 2 == 0;
            f1.Add(a); f2.Add(s ? a.Clone() : Rand()); same.Add(s);
        }
        var result = OcclusionRobustness.Evaluate(new PixelMatchScorer(), f1, f2, same,
            new OcclusionOptions { Levels = [0, 0.5, 1.0], Fill = OcclusionFill.Noise });
        Assert.Equal(40, result.Pairs);
        var exact = result.Series.Single(s => s.ScoreName == "match");
        Assert.Equal(1.0, exact.AccuracyMean[0], 9);
        Assert.Equal(0.5, exact.AccuracyMean[2], 1); // fully covered by noise: chance
        Assert.Equal(2, result.Series.Count);
        var png = result.RenderPlotPng();
        Assert.True(png.Length > 1000 && png[1] == (byte)'P');
    }

    /// <summary>A face of distinct textured cells: every cell has its own colour and a checker pattern.</summary>
    internal static RgbImage PatternFace(int size, int grid, int phase = 0)
    {
        var img = new RgbImage(size, size);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int cell = y * grid / size * grid + x * grid / size;
                bool check = ((x + phase) / 2 + y / 2) % 2 == 0;
                img.Pixels[(y * size + x) * 3 + 0] = (byte)(40 + cell * 4 % 180 + (check ? 30 : 0));
                img.Pixels[(y * size + x) * 3 + 1] = (byte)(200 - cell * 3 % 150 - (check ? 30 : 0));
                img.Pixels[(y * size + x) * 3 + 2] = (byte)((cell * 37 + phase * 11) % 200 + (check ? 40 : 0));
            }
        return img;
    }

    /// <summary>
    /// Score = sum over cells of weight * (pixel spread left in the cell / spread in the intact cell): an intact cell
    /// adds its weight, a filled (flat) cell adds nothing. So the weights are the exact patch contributions.
    /// </summary>
    private sealed class CellDetailScorer : IFacePairScoring
    {
        private readonly RgbImage intact, fixedFace;
        private readonly int face, grid;
        private readonly float[] weights;
        private readonly double[] reference;

        public CellDetailScorer(RgbImage intact, RgbImage fixedFace, int face, int grid, float[] weights)
        {
            this.intact = intact; this.fixedFace = fixedFace; this.face = face; this.grid = grid; this.weights = weights;
            reference = Enumerable.Range(0, grid * grid).Select(c => Spread(intact, c)).ToArray();
        }

        /// <summary>Score of the fully filled face (a blurred cell keeps a little spread, a mean-colour cell none).</summary>
        public double Floor { get; private set; }

        public CellDetailScorer WithFill(PatchFill fill, int radius)
        {
            var filled = FaithfulnessPatches.Filled(intact, fill, radius);
            Floor = Enumerable.Range(0, weights.Length).Sum(c => weights[c] * Math.Min(1, Spread(filled, c) / reference[c]));
            return this;
        }

        public IReadOnlyList<string> ScoreNames => ["detail", "negated"];

        public double[][] Score(IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2)
        {
            var perturbed = face == 1 ? faces1 : faces2;
            var fixedOnes = face == 1 ? faces2 : faces1;
            var s = new double[perturbed.Count];
            for (int i = 0; i < s.Length; i++)
            {
                Assert.Same(fixedFace, fixedOnes[i]);
                for (int c = 0; c < weights.Length; c++)
                    s[i] += weights[c] * Math.Min(1, Spread(perturbed[i], c) / reference[c]);
            }
            return [s, s.Select(v => -v).ToArray()];
        }

        private double Spread(RgbImage img, int cell)
        {
            var (x0, y0, x1, y1) = FaithfulnessPatches.CellRect(img.Width, img.Height, grid, cell);
            var v = new List<double>();
            for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) for (int ch = 0; ch < 3; ch++) v.Add(img[x, y, ch]);
            double m = v.Average();
            return v.Sum(a => (a - m) * (a - m)) / v.Count;
        }
    }

    /// <summary>"match" = minus the mean absolute pixel difference; "noisy" = the same plus a fixed offset per pair.</summary>
    private sealed class PixelMatchScorer : IFacePairScoring
    {
        public IReadOnlyList<string> ScoreNames => ["match", "shifted"];

        public double[][] Score(IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2)
        {
            var s = faces1.Select((a, i) => -a.Pixels.Zip(faces2[i].Pixels, (p, q) => Math.Abs(p - q)).Average()).ToArray();
            return [s, s.Select(v => v + 0.5).ToArray()];
        }
    }
}
