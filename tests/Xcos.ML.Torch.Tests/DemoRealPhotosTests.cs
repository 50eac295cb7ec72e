using Xcos.ML.Torch.Demo;
using Xcos.ML.Verification;

namespace Xcos.ML.Torch.Tests;

/// <summary>The demo's real-model part: labelled real photos only, and a plain sentence when it cannot run.</summary>
public sealed class DemoRealPhotosTests
{
    [Fact]
    public void AGivenPhotoFolderWithoutPairsIsRefusedByName()
    {
        string dir = Directory.CreateTempSubdirectory("xcos-demo-photos-").FullName;
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => DemoRealPhotos.FindPhotoSet(dir));
            Assert.Contains(Path.Combine(dir, "pairs.tsv"), e.Message);
            File.WriteAllText(Path.Combine(dir, "pairs.tsv"), "file1\tfile2\tsame\na.jpg\tb.jpg\t1\n");
            Assert.Equal(dir, DemoRealPhotos.FindPhotoSet(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void WithoutTheModelsItSaysHowToGetThemAndRunsNothing()
    {
        string dir = Directory.CreateTempSubdirectory("xcos-demo-nomodels-").FullName;
        try
        {
            var o = new DemoOptions { OutputDirectory = dir, ModelsDirectory = Path.Combine(dir, "none") };
            var r = DemoRealPhotos.Run(o, null, dir, (_, _, _) => { }, default);
            Assert.False(r.Ran);
            Assert.Empty(r.Pairs);
            Assert.Contains("xcos models fetch", r.Note);
            Assert.False(Directory.Exists(Path.Combine(dir, "real")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [DevFacesFact]
    public void TheRealModelVerifiesALabelledSameAndDifferentPairOfRealPhotos()
    {
        string dir = Directory.CreateTempSubdirectory("xcos-demo-real-").FullName;
        try
        {
            string photos = DevFaces.Root;
            var o = new DemoOptions { OutputDirectory = dir, ModelsDirectory = Environment.GetEnvironmentVariable("XCOS_MODELS"), Threads = 1 };
            var r = DemoRealPhotos.Run(o, photos, dir, (_, _, _) => { }, default);
            Assert.True(r.Ran, r.Note);
            Assert.Equal([true, false], r.Pairs.Select(p => p.SameIdentity));
            Assert.All(r.Pairs, p =>
            {
                Assert.True(p.Verification.IsOk, p.Verification.FailureText);
                Assert.StartsWith(photos, p.Photo1);
                Assert.Equal("cosine", p.Verification.DecidedBy);
                // dev-faces is easy for fr_feature: both decisions are right
                Assert.Equal(p.SameIdentity ? VerificationDecision.Same : VerificationDecision.Different, p.Verification.Decision);
                Assert.True(new FileInfo(p.Figure!).Length > 1000, p.Figure);
            });
            Assert.Contains("not shown to it", r.Note);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
