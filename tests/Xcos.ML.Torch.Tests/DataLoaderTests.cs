using Xcos.ML.Data;
using Xcos.ML.Images;
using Xcos.ML.Torch.Data;
using Xunit;

namespace Xcos.ML.Torch.Tests;

[Collection("Training")]
public sealed class DataLoaderTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public DataLoaderTests(TinyFaceSet set) => _set = set;

    [Fact]
    public void PrefetchYieldsEveryItemInOrderAndStaysBounded()
    {
        int produced = 0, consumed = 0, maxAhead = 0;
        var loader = new PrefetchLoader<int>(25, (i, _) =>
        {
            int ahead = Interlocked.Increment(ref produced) - Volatile.Read(ref consumed);
            InterlockedMax(ref maxAhead, ahead);
            return i * 10;
        }, capacity: 2);
        var got = new List<int>();
        foreach (var v in loader.Read())
        {
            Thread.Sleep(2);
            got.Add(v);
            Interlocked.Increment(ref consumed);
        }
        Assert.Equal(Enumerable.Range(0, 25).Select(i => i * 10), got);
        // capacity waiting + one being produced + one held by the consumer
        Assert.InRange(maxAhead, 1, 4);
        Assert.Equal(new[] { 230, 240 }, loader.Read(start: 23).ToArray());
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int cur;
        while ((cur = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, cur) != cur) { }
    }

    [Fact]
    public void PrefetchRethrowsProducerErrorAtItsPositionAndStopsEarlyCleanly()
    {
        var loader = new PrefetchLoader<int>(10, (i, _) => i == 4 ? throw new InvalidDataException("item four is bad") : i);
        var got = new List<int>();
        var e = Assert.Throws<InvalidDataException>(() => { foreach (var v in loader.Read()) got.Add(v); });
        Assert.Equal("item four is bad", e.Message);
        Assert.Equal(new[] { 0, 1, 2, 3 }, got);
        Assert.Equal(new[] { 0, 1 }, loader.Read().Take(2).ToArray());
    }

    [Fact]
    public void BatchesCoverAllImagesDeterministicallyPerEpoch()
    {
        var folder = _set.Train();
        var source = new PairBatchSource(folder, new FaceImageLoader(), new PairBatchOptions { BatchSize = 4, Prefetch = 1 }, seed: 5);
        Assert.Equal(2, source.BatchesPerEpoch); // 6 pairs: 4 + 2
        var a = source.Epoch(0).Read().ToArray();
        var b = source.Epoch(0).Read().ToArray();
        var c = source.Epoch(1).Read().ToArray();
        Assert.Equal(new[] { 4, 2 }, a.Select(x => x.Count));
        Assert.Equal(a.SelectMany(x => x.Images1), b.SelectMany(x => x.Images1));
        Assert.Equal(a.SelectMany(x => x.Images2), b.SelectMany(x => x.Images2));
        Assert.NotEqual(a.SelectMany(x => x.Images1), c.SelectMany(x => x.Images1));
        // every image is the first image of exactly one pair
        Assert.Equal(folder.Labels.Order(), a.SelectMany(x => x.Labels1).Select(l => (int)l).Order());
        // pixel values are in the xCos range
        Assert.All(a[0].Images1, v => Assert.InRange(v, -1f, 1f));
        for (int k = 0; k < a[0].Count; k++) Assert.Equal(a[0].Labels1[k] == a[0].Labels2[k], a[0].Same[k]);
    }

    [Fact]
    public void LoaderMatchesFaceTensorAndFlips()
    {
        var path = _set.Train().Samples[0].Path;
        var img = ImageIO.Load(path);
        var loader = new FaceImageLoader();
        var x = new float[loader.Options.ImageFloats];
        loader.Load(path, x);
        Assert.Equal(FaceTensor.ToChw(img), x);
        loader.Load(path, x, flip: true);
        Assert.Equal(FaceTensor.ToChw(img, new FaceTensorOptions { HorizontalFlip = true }), x);
    }

    [Fact]
    public void BadImageIsReportedByNameAndWrongSizeIsRefusedOrResized()
    {
        var dir = Path.Combine(_set.Dir, "bad-" + Guid.NewGuid().ToString("N"));
        foreach (var id in new[] { "a", "b" }) Directory.CreateDirectory(Path.Combine(dir, id));
        var good = _set.Train().Samples[0].Path;
        File.Copy(good, Path.Combine(dir, "a", "1.png"));
        File.Copy(good, Path.Combine(dir, "a", "2.png"));
        File.Copy(good, Path.Combine(dir, "b", "1.png"));
        var bad = Path.Combine(dir, "b", "2.png");
        File.WriteAllBytes(bad, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var source = new PairBatchSource(ImageFolder.Load(dir), new FaceImageLoader(), new PairBatchOptions { BatchSize = 4 });
        var e = Assert.Throws<InvalidDataException>(() => source.Epoch(0).Read().ToArray());
        Assert.Contains(bad, e.Message);

        var small = Path.Combine(dir, "small.png");
        ImageIO.SavePng(new RgbImage(56, 56), small);
        var x = new float[3 * 112 * 112];
        var refuse = Assert.Throws<InvalidDataException>(() => new FaceImageLoader().Load(small, x));
        Assert.Contains(small, refuse.Message);
        Assert.Contains("56x56", refuse.Message);
        new FaceImageLoader(new FacePreprocessOptions { SizeMismatch = SizeMismatch.Resize }).Load(small, x);
        Assert.All(x, v => Assert.Equal(-1f, v));
    }
}
