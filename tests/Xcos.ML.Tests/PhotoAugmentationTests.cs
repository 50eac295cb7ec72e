using Xcos.ML.Alignment;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;

namespace Xcos.ML.Tests;

public class PhotoAugmentationTests
{
    private static RgbImage Photo()
    {
        var px = new byte[160 * 120 * 3];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)(i * 7 % 251);
        return new RgbImage(160, 120, px);
    }

    private static Affine2x3 Shift => new(1, 0, -20, 0, 1, -4);

    [Fact]
    public void KindZeroIsThePlainAlignedCropAndDrawsNothing()
    {
        var rng = new Random(5);
        var a = PhotoAugmentation.Augment(Photo(), Shift, 0, rng);
        Assert.Equal(AffineWarp.Warp(Photo(), Shift, 112, 112).Pixels, a.Pixels);
        Assert.Equal(new Random(5).Next(), rng.Next());
    }

    [Fact]
    public void SameSeedSameCropsOtherSeedOtherCrops()
    {
        for (int kind = 1; kind < PhotoAugmentation.Kinds; kind++)
        {
            var a = PhotoAugmentation.Augment(Photo(), Shift, kind, new Random(9));
            var b = PhotoAugmentation.Augment(Photo(), Shift, kind, new Random(9));
            var c = PhotoAugmentation.Augment(Photo(), Shift, kind, new Random(10));
            Assert.Equal(a.Pixels, b.Pixels);
            Assert.NotEqual(a.Pixels, c.Pixels);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => PhotoAugmentation.Augment(Photo(), Shift, PhotoAugmentation.Kinds, new Random(1)));
    }

    [Fact]
    public void FlipTwiceIsIdentityAndBlurKeepsAFlatImage()
    {
        var p = Photo();
        Assert.Equal(p.Pixels, PhotoAugmentation.FlipHorizontal(PhotoAugmentation.FlipHorizontal(p)).Pixels);
        var flat = new RgbImage(8, 8, Enumerable.Repeat((byte)77, 8 * 8 * 3).ToArray());
        Assert.All(PhotoAugmentation.Blur3(flat).Pixels, v => Assert.Equal(77, v));
    }
}
