using System.Diagnostics;
using Xcos.ML.Data;
using Xcos.ML.Gallery;
using Xcos.ML.Metrics;

namespace Xcos.ML.Tests;

/// <summary>Atomic replacement through links, and streams (devices, FIFOs) written directly.</summary>
public class AtomicFileTests
{
    private static readonly PairScoreRow[] Rows = [new("a.jpg", "b.jpg", true, 0.5, 0.25, "ok")];

    [Fact]
    public void Scores_written_through_a_link_land_in_its_target_and_the_link_stays()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-atomic").FullName;
        var target = Path.Combine(dir, "real.tsv");
        File.WriteAllText(target, "old");
        var link = Path.Combine(dir, "link.tsv");
        File.CreateSymbolicLink(link, "real.tsv");
        PairScoresFile.Write(link, "weights", Rows);
        Assert.Equal("real.tsv", new FileInfo(link).LinkTarget);
        Assert.StartsWith("file1\t", File.ReadAllText(target));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));   // no temporary file left
    }

    [Fact]
    public void Scores_written_to_a_link_to_a_device_write_the_device_and_keep_the_link()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-atomic").FullName;
        var link = Path.Combine(dir, "null.tsv");
        File.CreateSymbolicLink(link, "/dev/null");
        PairScoresFile.Write(link, "weights", Rows);
        Assert.Equal("/dev/null", new FileInfo(link).LinkTarget);
        Assert.Equal(FileKind.Special, FileKinds.Of("/dev/null"));
    }

    [Fact]
    public async Task Scores_written_to_a_fifo_reach_its_reader_and_the_fifo_stays()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-atomic").FullName;
        var fifo = Path.Combine(dir, "out.fifo");
        using (var mk = Process.Start("mkfifo", [fifo])) mk.WaitForExit();
        var read = Task.Run(() => File.ReadAllText(fifo));
        PairScoresFile.Write(fifo, "weights", Rows);
        if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(20))) != read)
        {
            // unblock the reader before failing, so the test host does not hang
            using (var w = new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
            Assert.Fail("the reader of the FIFO got nothing");
        }
        Assert.StartsWith("file1\t", await read);
        Assert.Equal(FileKind.Special, FileKinds.Of(fifo));
    }

    [Fact]
    public void Compacting_a_gallery_reached_through_a_link_rewrites_the_target_and_keeps_the_link()
    {
        var dir = Directory.CreateTempSubdirectory("xcos-atomic").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "store"));
        var model = new GalleryModelStamp("test-model", "sha256:00", 4, 2);
        var target = Path.Combine(dir, "store", "g.gal");
        using (FaceGallery.Create(target, model)) { }
        var link = Path.Combine(dir, "g.gal");
        File.CreateSymbolicLink(link, Path.Combine("store", "g.gal"));
        using (var g = FaceGallery.Open(link, model))
        {
            g.Enroll("keep", [1, 0, 0, 0], [1, 2], "k.jpg");
            g.Enroll("gone", [0, 1, 0, 0], [3, 4], "g.jpg");
            g.RemoveIdentity("gone");
            g.Compact();
        }
        Assert.Equal(Path.Combine("store", "g.gal"), new FileInfo(link).LinkTarget);
        using var t = FaceGallery.Open(target, model, new FaceGalleryOptions { ReadOnly = true });
        Assert.Equal(["keep"], t.Identities);
        Assert.DoesNotContain("gone", File.ReadAllText(target));   // the removed person's records are gone from the real file
    }
}
