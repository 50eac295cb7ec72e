using Xcos.ML.Data;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The pair-file row of the bad-input matrix: each case a file a user could pass as --pairs/--val, refused with the file and line named.</summary>
public sealed class PairFileMatrixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-pair-matrix").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData("bad-label.tsv", "a.png\tb.png\t1\nc.png\td.png\tmaybe\n", "line 2")]
    [InlineData("two-columns.tsv", "a.png\tb.png\t1\nc.png\td.png\n", "line 2")]
    [InlineData("empty-id.tsv", "file1\tfile2\tsame\n\t\t1\n", "line 2")]
    [InlineData("lfw-bad-line.txt", "1 1\nAnn 1 2\nBob x 1\n", "line 3")]
    [InlineData("lfw-count.txt", "1 2\nAnn 1 2\nBob 1 Cid 1\n", "announces 4")]
    [InlineData("empty.tsv", "", "empty")]
    [InlineData("prose.txt", "hello world\n", "not a recognised pair file")]
    [InlineData("header-only.tsv", "file1\tfile2\tsame\n", "no pairs")]
    public void BadTextFileIsRefusedNamingFileAndLine(string name, string text, string expected)
    {
        var path = Write(name, text);
        var e = Assert.Throws<InvalidDataException>(() => PairSetReader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void MissingFileAndDirectoryAreNotFound()
    {
        Assert.Contains("not found", Assert.Throws<FileNotFoundException>(() => PairSetReader.Load(Path.Combine(_dir, "absent.tsv"))).Message);
        Assert.Throws<FileNotFoundException>(() => PairSetReader.Load(_dir));
    }

    [Fact]
    public void RowsAreTheFilesLineNumbers()
    {
        // header on line 1, a blank line 3: the pairs sit on lines 2 and 4
        var tsv = PairSetReader.Load(Write("gaps.tsv", "file1\tfile2\tsame\na.png\tb.png\t1\n\nc.png\td.png\t0\n"));
        Assert.Equal([2, 4], Enumerable.Range(0, tsv.Count).Select(tsv.RowOf));
        var lfw = PairSetReader.Load(Write("pairs.txt", "1 1\nAnn 1 2\n\nBob 1 Cid 1\n"));
        Assert.Equal([2, 4], Enumerable.Range(0, lfw.Count).Select(lfw.RowOf));
        // a .bin has no lines: the 1-based pair number
        var bin = PairSetReader.Load(Fixtures.Path("pairs_protocol2.bin"));
        Assert.Equal([1, 2, 3, 4], Enumerable.Range(0, bin.Count).Select(bin.RowOf));
    }
}
