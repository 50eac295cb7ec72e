using Xcos.ML.Explain;
using Xcos.ML.Images;
using Xunit;

namespace Xcos.ML.Tests;

public class FaceOccludersTests
{
    // a mid-grey face with a faint gradient, so no occluder colour can be mistaken for it everywhere
    private static RgbImage Face()
    {
        var img = new RgbImage(112, 112);
        for (int y = 0; y < 112; y++)
            for (int x = 0; x < 112; x++)
                for (int c = 0; c < 3; c++) img.Pixels[(y * 112 + x) * 3 + c] = (byte)(120 + (x + y) % 7);
        return img;
    }

    private static bool[] Changed(RgbImage a, RgbImage b)
    {
        var m = new bool[a.Width * a.Height];
        for (int i = 0; i < m.Length; i++) m[i] = a.Pixels[i * 3] != b.Pixels[i * 3] || a.Pixels[i * 3 + 1] != b.Pixels[i * 3 + 1] || a.Pixels[i * 3 + 2] != b.Pixels[i * 3 + 2];
        return m;
    }

    private static double Share(bool[] m, int y0, int y1) =>
        Enumerable.Range(y0 * 112, (y1 - y0) * 112).Count(i => m[i]) / (double)((y1 - y0) * 112);

    [Fact]
    public void None_leaves_the_face_and_never_touches_the_input()
    {
        var face = Face();
        var before = (byte[])face.Pixels.Clone();
        var r = new Random(1);
        Assert.Equal(before, FaceOccluders.Apply(face, FaceOccluder.None, r).Pixels);
        foreach (var k in FaceOccluders.All) FaceOccluders.Apply(face, k, r);
        Assert.Equal(before, face.Pixels);
    }

    [Fact]
    public void A_mask_covers_the_lower_face_and_not_the_eyes()
    {
        var face = Face();
        for (int seed = 0; seed < 20; seed++)
        {
            var m = Changed(face, FaceOccluders.Apply(face, FaceOccluder.Mask, new Random(seed)));
            Assert.True(Share(m, 90, 104) > 0.6, $"seed {seed}: the mouth rows are not covered");
            Assert.Equal(0, Share(m, 0, 48));
        }
    }

    [Fact]
    public void Sunglasses_cover_the_eye_rows_only()
    {
        var face = Face();
        for (int seed = 0; seed < 20; seed++)
        {
            var m = Changed(face, FaceOccluders.Apply(face, FaceOccluder.Sunglasses, new Random(seed)));
            Assert.True(m[52 * 112 + 38] || m[50 * 112 + 38], $"seed {seed}: left eye not covered");
            Assert.Equal(0, Share(m, 80, 112));
            Assert.Equal(0, Share(m, 0, 25));
        }
    }

    [Fact]
    public void A_block_covers_ten_to_fifty_percent_and_varies_with_the_generator()
    {
        var face = Face();
        var shares = new HashSet<double>();
        for (int seed = 0; seed < 40; seed++)
        {
            var m = Changed(face, FaceOccluders.Apply(face, FaceOccluder.Block, new Random(seed)));
            // a block of the face's own colour leaves pixels unchanged, so allow a little below 10 %
            double share = Share(m, 0, 112);
            Assert.InRange(share, 0.08, 0.52);
            shares.Add(Math.Round(share, 3));
        }
        Assert.True(shares.Count > 20, "blocks should differ from draw to draw");
        Assert.Equal(FaceOccluders.Apply(face, FaceOccluder.Block, new Random(5)).Pixels, FaceOccluders.Apply(face, FaceOccluder.Block, new Random(5)).Pixels);
    }

    [Fact]
    public void Occluded_pair_sets_are_balanced_and_reproducible()
    {
        var faces = Enumerable.Range(0, 12).Select(_ => Face()).ToList();
        var labels = Enumerable.Range(0, 12).Select(i => i / 4).ToList();
        var a = OccludedPairSet.Build("t", faces, labels, 20, 3);
        var b = OccludedPairSet.Build("t", faces, labels, 20, 3);
        Assert.Equal(10, a.Pairs.Count(p => p.Same));
        Assert.Equal(10, a.Pairs.Count(p => !p.Same));
        Assert.All(a.Pairs, p => Assert.Equal(p.Same, labels[p.A] == labels[p.B]));
        Assert.Equal(a.Pairs, b.Pairs);
        Assert.Equal(a.Second[FaceOccluder.Mask][3].Pixels, b.Second[FaceOccluder.Mask][3].Pixels);
        Assert.Throws<ArgumentException>(() => OccludedPairSet.Build("t", faces, Enumerable.Repeat(0, 12).ToList(), 20, 3));
    }
}
