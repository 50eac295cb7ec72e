using System.Globalization;
using Xcos.ML.Data.Synthetic;
using Xcos.ML.Figures;
using Xunit;

namespace Xcos.ML.Tests;

public class SyntheticFacesTests
{
    private static SyntheticFacesOptions Small(int seed = 7, int size = 64) => new()
    {
        Identities = 6, ImagesPerIdentity = 3, ImageSize = size, Seed = seed, ValidationFraction = 0.34, ValidationPairs = 4,
    };

    [Fact]
    public void SameSeed_GivesByteIdenticalImages_InAnyOrderAndWorkerCount()
    {
        var a = new SyntheticFaces(With(Small(), o => o.Workers = 1)).Generate(Enumerable.Range(0, 6));
        var b = new SyntheticFaces(With(Small(), o => o.Workers = 2)).Generate(Enumerable.Range(0, 6));
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].Rgb, b[i].Rgb);
        // Random access regenerates the same image.
        Assert.Equal(a[10].Rgb, new SyntheticFaces(Small()).Generate(a[10].Identity, a[10].Index).Rgb);
        // A different seed changes the pixels.
        var c = new SyntheticFaces(Small(seed: 8)).Generate(0, 0);
        Assert.NotEqual(a[0].Rgb, c.Rgb);
        Assert.Equal(64 * 64 * 3, a[0].Rgb.Length);
    }

    [Fact]
    public void Landmarks_AreInsideImageAndNearArcFaceTemplate()
    {
        var gen = new SyntheticFaces(new SyntheticFacesOptions { Identities = 12, ImagesPerIdentity = 6, Seed = 3 });
        var faces = gen.Generate(Enumerable.Range(0, 12));
        var t = FaceLandmarks.Template112;
        double sum = 0, max = 0;
        int n = 0;
        foreach (var f in faces)
            for (int i = 0; i < 5; i++)
            {
                Assert.InRange(f.Landmarks.X(i), 0, 111);
                Assert.InRange(f.Landmarks.Y(i), 0, 111);
                double d = Math.Sqrt(Math.Pow(f.Landmarks.X(i) - t[2 * i], 2) + Math.Pow(f.Landmarks.Y(i) - t[2 * i + 1], 2));
                sum += d; max = Math.Max(max, d); n++;
            }
        Assert.InRange(sum / n, 1.0, 9.0);   // nuisance moves them, but only a little
        Assert.True(max < 20, $"max landmark offset {max:F1} px");

        // Without nuisance only the identity geometry offsets remain, and landmarks scale with the image size.
        var calm = new SyntheticFaces(new SyntheticFacesOptions { Identities = 4, ImagesPerIdentity = 1, NuisanceStrength = 0, ImageSize = 56 });
        foreach (var f in calm.Generate(Enumerable.Range(0, 4)))
            for (int i = 0; i < 5; i++)
            {
                Assert.InRange(f.Landmarks.X(i), t[2 * i] / 2 - 2.5, t[2 * i] / 2 + 2.5);
                Assert.InRange(f.Landmarks.Y(i), t[2 * i + 1] / 2 - 2.5, t[2 * i + 1] / 2 + 2.5);
            }
    }

    [Fact]
    public void WriteImageFolder_WritesTreePairsAndLandmarks()
    {
        var dir = Path.Combine(Path.GetTempPath(), "xcos_synth_" + Guid.NewGuid().ToString("N"));
        try
        {
            var gen = new SyntheticFaces(Small(size: 32));
            var progress = new SyncProgress();
            gen.WriteImageFolder(dir, progress);
            Assert.Equal(18, progress.Max);
            Assert.Equal(4, gen.TrainIdentities);
            Assert.Equal(4, Directory.GetDirectories(Path.Combine(dir, "train")).Length);
            Assert.Equal(2, Directory.GetDirectories(Path.Combine(dir, "val")).Length);
            Assert.True(File.Exists(Path.Combine(dir, "train", "id0000", "0002.png")));
            Assert.True(File.Exists(Path.Combine(dir, "val", "id0005", "0000.png")));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));

            var pairs = File.ReadAllLines(Path.Combine(dir, "val_pairs.tsv"));
            Assert.Equal("file1\tfile2\tsame", pairs[0]);
            Assert.Equal(5, pairs.Length);
            int same = 0;
            foreach (var line in pairs.Skip(1))
            {
                var p = line.Split('\t');
                Assert.Equal(3, p.Length);
                Assert.StartsWith("val/", p[0]);
                Assert.StartsWith("val/", p[1]);
                Assert.True(File.Exists(Path.Combine(dir, p[0])) && File.Exists(Path.Combine(dir, p[1])), line);
                Assert.NotEqual(p[0], p[1]);
                bool sameId = p[0].Split('/')[1] == p[1].Split('/')[1];
                Assert.Equal(sameId ? "1" : "0", p[2]);
                if (sameId) same++;
                Assert.Equal(same, (pairs.ToList().IndexOf(line) + 1) / 2); // alternating same, different, ...
            }
            Assert.Equal(2, same);

            var lms = File.ReadAllLines(Path.Combine(dir, "landmarks.tsv"));
            Assert.Equal(19, lms.Length);
            Assert.StartsWith("file\tx1\ty1", lms[0]);
            var row = lms.Single(l => l.StartsWith("val/id0004/0001.png\t", StringComparison.Ordinal)).Split('\t');
            Assert.Equal(11, row.Length);
            var face = gen.Generate(4, 1);
            for (int i = 0; i < 10; i++)
                Assert.Equal(face.Landmarks.Points[i], float.Parse(row[i + 1], CultureInfo.InvariantCulture), 0.001f);

            // PNG is lossless: the file holds exactly the in-memory pixels.
            var (rgb, w, h) = RgbPng.DecodeRgb(File.ReadAllBytes(Path.Combine(dir, face.RelativePath)));
            Assert.Equal((32, 32), (w, h));
            Assert.Equal(face.Rgb, rgb);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RawPixelCosine_IsAPoorVerifier_ButIdentityIsInThePixelsWithoutNuisance()
    {
        double noisy = PixelCosineAuc(1.0);
        Assert.True(noisy < 0.8, $"raw pixel cosine AUC {noisy:F3} should stay well below 0.8");
        Assert.True(noisy > 0.5, $"raw pixel cosine AUC {noisy:F3}: same-identity pairs should still be a little closer than chance");
        double calm = PixelCosineAuc(0.0);
        Assert.True(calm > 0.95, $"without nuisance same-identity images are identical, AUC {calm:F3}");
    }

    [Fact]
    public void BadOptions_AreRejectedWithTheOptionName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticFaces(new SyntheticFacesOptions { Identities = 1 }));
        Assert.Contains("Identities", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticFaces(new SyntheticFacesOptions { NuisanceStrength = 3 }));
        var gen = new SyntheticFaces(Small());
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.Generate(6, 0));
        var tooMany = new SyntheticFaces(With(Small(), o => o.ValidationPairs = 1000));
        Assert.Throws<InvalidOperationException>(() => tooMany.ValidationPairs());
    }

    /// <summary>AUC of raw RGB cosine over seeded same/different pairs of held-out identities (rank formula).</summary>
    private static double PixelCosineAuc(double strength)
    {
        var gen = new SyntheticFaces(new SyntheticFacesOptions
        {
            Identities = 40, ImagesPerIdentity = 8, Seed = 11, NuisanceStrength = strength, ValidationFraction = 0.5, ValidationPairs = 400,
        });
        var faces = gen.GenerateValidation().ToDictionary(f => (f.Identity, f.Index), f => f.Rgb);
        var scored = gen.ValidationPairs()
            .Select(p => (Score: Cosine(faces[(p.Identity1, p.Index1)], faces[(p.Identity2, p.Index2)]), p.Same))
            .OrderBy(s => s.Score).ToList();
        // Mann-Whitney: AUC = (sum of positive ranks - P(P+1)/2) / (P N), ties given their average rank.
        var ranks = new double[scored.Count];
        for (int i = 0; i < scored.Count;)
        {
            int j = i;
            while (j + 1 < scored.Count && scored[j + 1].Score == scored[i].Score) j++;
            for (int k = i; k <= j; k++) ranks[k] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        double pos = scored.Count(s => s.Same), neg = scored.Count - pos;
        double rankSum = Enumerable.Range(0, scored.Count).Where(i => scored[i].Same).Sum(i => ranks[i]);
        return (rankSum - pos * (pos + 1) / 2) / (pos * neg);
    }

    private static double Cosine(byte[] a, byte[] b)
    {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return d / Math.Sqrt(na * nb);
    }

    private static SyntheticFacesOptions With(SyntheticFacesOptions o, Action<SyntheticFacesOptions> change)
    {
        change(o);
        return o;
    }

    private sealed class SyncProgress : IProgress<int>
    {
        private int _max;
        public int Max => _max;
        public void Report(int value)
        {
            int cur;
            while (value > (cur = _max) && Interlocked.CompareExchange(ref _max, value, cur) != cur) { }
        }
    }
}
