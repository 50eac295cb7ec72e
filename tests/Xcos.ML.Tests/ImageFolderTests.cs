using Xcos.ML.Data;
using Xunit;

namespace Xcos.ML.Tests;

public sealed class ImageFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("xcos-imgfolder-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Touch(params string[] parts)
    {
        string path = Path.Combine([_root, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [0]);
    }

    [Fact]
    public void Numbering_FollowsTorchvision()
    {
        // Ordinal order: upper case before lower case, '_' (0x5F) between them.
        Touch("bob", "2.jpg");
        Touch("bob", "10.PNG");
        Touch("bob", "notes.txt");
        Touch("Zed", "a.jpeg");
        Touch("Zed", "sub", "b.webp");
        Touch("Zed", "a.bmp");
        Touch("_x", "c.JPG");
        Touch("stray.jpg"); // a file at the root is no identity

        var f = ImageFolder.Load(_root);
        Assert.Equal(new[] { "Zed", "_x", "bob" }, f.Identities);
        Assert.Equal(1, f.IdentityToLabel["_x"]);
        string[] expected =
        [
            Path.Combine(_root, "Zed", "a.bmp"), Path.Combine(_root, "Zed", "a.jpeg"), Path.Combine(_root, "Zed", "sub", "b.webp"),
            Path.Combine(_root, "_x", "c.JPG"),
            Path.Combine(_root, "bob", "10.PNG"), Path.Combine(_root, "bob", "2.jpg"),
        ];
        Assert.Equal(expected, f.Samples.Select(s => s.Path));
        Assert.Equal(new[] { 0, 0, 0, 1, 2, 2 }, f.Labels);
    }

    [Fact]
    public void CodePointOrder_DiffersFromUtf16ForAstralCharacters()
    {
        // U+1F600 sorts after U+FF5E by code point, but its UTF-16 surrogate (0xD83D) sorts before 0xFF5E.
        var cmp = ImageFolder.CodePointComparer.Instance;
        Assert.True(cmp.Compare("\U0001F600", "\uFF5E") > 0);
        Assert.True(string.CompareOrdinal("\U0001F600", "\uFF5E") < 0);
    }

    [Fact]
    public void MissingRoot_NoIdentities_EmptyIdentity_AreErrors()
    {
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Load(Path.Combine(_root, "nope")));
        Assert.Contains("no identity folders", Assert.Throws<InvalidDataException>(() => ImageFolder.Load(_root)).Message);

        Touch("a", "1.jpg");
        Touch("b", "readme.txt");
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(_root));
        Assert.Contains("identity b", e.Message);

        var lenient = ImageFolder.Load(_root, new ImageFolderOptions { AllowEmptyIdentities = true });
        Assert.Equal(new[] { "a", "b" }, lenient.Identities);
        Assert.Single(lenient.Samples);
    }

    private static int[] Labels(params int[] perIdentity) =>
        perIdentity.SelectMany((count, label) => Enumerable.Repeat(label, count)).ToArray();

    [Fact]
    public void PairSampler_IsDeterministicForASeed()
    {
        int[] labels = Labels(3, 5, 2, 4);
        var a = new PairSampler(labels, new PairSamplerOptions { Seed = 7 }).SampleEpoch();
        var b = new PairSampler(labels, new PairSamplerOptions { Seed = 7 }).SampleEpoch();
        var c = new PairSampler(labels, new PairSamplerOptions { Seed = 8 }).SampleEpoch();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void PairSampler_PairsAreValid_AndBalanced()
    {
        int[] labels = Labels(3, 5, 2, 4, 6, 2);
        var sampler = new PairSampler(labels, new PairSamplerOptions { Seed = 1 });
        int same = 0, total = 0;
        var partnersOf0 = new HashSet<int>();
        for (int epoch = 0; epoch < 200; epoch++)
        {
            foreach (var p in sampler.SampleEpoch())
            {
                total++;
                Assert.Equal(p.Same, labels[p.First] == labels[p.Second]);
                if (p.Same) { same++; Assert.NotEqual(p.First, p.Second); }
                if (p.First == 0) partnersOf0.Add(p.Second);
            }
        }
        // 4400 fair coin flips: 0.5 +- 0.03 is about four standard deviations.
        Assert.InRange(same / (double)total, 0.47, 0.53);
        // Image 0 meets both other images of its identity and images of other identities.
        Assert.Contains(1, partnersOf0);
        Assert.Contains(2, partnersOf0);
        Assert.Contains(partnersOf0, i => labels[i] != 0);
    }

    [Fact]
    public void PairSampler_DifferentIdentity_IsUniformOverIdentities()
    {
        // Identity 0 has 2 images, identity 1 has 50: the original draws the other identity first, so from an
        // image of identity 2 both are equally likely even though identity 1 has 25 times more images.
        int[] labels = Labels(2, 50, 2);
        var sampler = new PairSampler(labels, new PairSamplerOptions { Seed = 3 });
        int toZero = 0, toOne = 0;
        for (int i = 0; i < 4000; i++)
        {
            var p = sampler.Sample(52);
            if (p.Same) continue;
            if (labels[p.Second] == 0) toZero++; else toOne++;
        }
        double share = toZero / (double)(toZero + toOne);
        Assert.InRange(share, 0.44, 0.56);
    }

    [Fact]
    public void PairSampler_SingleImageIdentity_NeedsOptIn()
    {
        int[] labels = [0, 0, 1];
        var e = Assert.Throws<ArgumentException>(() => new PairSampler(labels));
        Assert.Contains("single image", e.Message);

        var sampler = new PairSampler(labels, new PairSamplerOptions { AllowSelfPairs = true, Seed = 2 });
        var pairs = Enumerable.Range(0, 100).Select(_ => sampler.Sample(2)).ToArray();
        Assert.All(pairs.Where(p => p.Same), p => Assert.Equal(2, p.Second));
        Assert.Contains(pairs, p => p.Same);
        Assert.Throws<ArgumentException>(() => new PairSampler(new[] { 0, 0 }));
    }

    [Fact]
    public void PairSampler_FromImageFolder()
    {
        Touch("a", "1.jpg"); Touch("a", "2.jpg"); Touch("b", "1.png"); Touch("b", "2.png");
        var folder = ImageFolder.Load(_root);
        var pairs = new PairSampler(folder, new PairSamplerOptions { Seed = 5 }).SampleEpoch();
        Assert.Equal(4, pairs.Length);
        Assert.All(pairs, p => Assert.Equal(p.Same, folder.Samples[p.First].Label == folder.Samples[p.Second].Label));
    }

    [Fact]
    public void Folder_link_loops_end_and_each_folder_is_walked_once()
    {
        Touch("p", "a.png");
        Touch("p", "sub", "b.png");
        Directory.CreateSymbolicLink(Path.Combine(_root, "p", "self"), ".");
        Directory.CreateSymbolicLink(Path.Combine(_root, "p", "sub", "up"), "..");
        var folder = ImageFolder.Load(_root);
        Assert.Equal(["a.png", "b.png"], folder.Samples.Select(s => Path.GetFileName(s.Path)));
    }
}
