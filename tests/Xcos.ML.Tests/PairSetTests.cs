using System.Globalization;
using System.Text;
using Xcos.ML.Data;
using Xunit;

namespace Xcos.ML.Tests;

public sealed class PairSetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-pairs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("pairs_py2.bin")]
    [InlineData("pairs_protocol2.bin")]
    [InlineData("pairs_protocol4.bin")]
    public void InsightFaceBin_AllThreeEncodings(string file)
    {
        string path = Fixtures.Path(file);
        Assert.Equal(PairSetFormat.InsightFaceBin, PairSetReader.DetectFormat(path));
        var set = PairSetReader.Load(path);
        Assert.Equal(PairSetFormat.InsightFaceBin, set.Format);
        Assert.Equal(new[] { true, false, true, false }, set.Labels);
        Assert.Null(set.ImageRoot);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(new FacePair((2 * i).ToString(CultureInfo.InvariantCulture), (2 * i + 1).ToString(CultureInfo.InvariantCulture), i % 2 == 0), set.Pairs[i]);
            var (a, b) = set.ReadPair(i);
            Assert.Equal(File.ReadAllBytes(Fixtures.Path($"pairs_image_{2 * i}.jpg")), a);
            Assert.Equal(File.ReadAllBytes(Fixtures.Path($"pairs_image_{2 * i + 1}.jpg")), b);
        }
        Assert.Throws<KeyNotFoundException>(() => set.ReadImage("8"));
    }

    [Fact]
    public void Pickle_ForeignGlobal_IsRefusedWithNameAndOffset()
    {
        // PROTO 2, GLOBAL 'os system', SHORT_BINUNICODE 'echo', TUPLE1, REDUCE, STOP
        var bytes = new List<byte> { 0x80, 2 };
        bytes.AddRange(Encoding.ASCII.GetBytes("cos\nsystem\n"));
        bytes.AddRange(new byte[] { 0x8c, 4 });
        bytes.AddRange(Encoding.ASCII.GetBytes("echo"));
        bytes.AddRange(new byte[] { 0x85, (byte)'R', (byte)'.' });
        string path = WriteBytes("evil.bin", bytes.ToArray());

        var e = Assert.Throws<InvalidDataException>(() => PairSetReader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("os.system", e.Message);
        Assert.Contains("GLOBAL", e.Message);
        Assert.Contains("byte offset 2", e.Message);
    }

    [Fact]
    public void Pickle_StackGlobalOtherThanCodecs_IsRefused()
    {
        // PROTO 4, SHORT_BINUNICODE 'builtins', SHORT_BINUNICODE 'eval', STACK_GLOBAL, ...
        var bytes = new List<byte> { 0x80, 4, 0x8c, 8 };
        bytes.AddRange(Encoding.ASCII.GetBytes("builtins"));
        bytes.AddRange(new byte[] { 0x8c, 4 });
        bytes.AddRange(Encoding.ASCII.GetBytes("eval"));
        bytes.Add(0x93);
        bytes.Add((byte)'.');
        string path = WriteBytes("evil4.bin", bytes.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => InsightFaceBin.Read(path));
        Assert.Contains("builtins.eval", e.Message);
        Assert.Contains("STACK_GLOBAL", e.Message);
        Assert.Contains("byte offset 18", e.Message);
    }

    [Fact]
    public void Pickle_ForbiddenOpcode_IsRefused()
    {
        // PROTO 2, EMPTY_DICT, STOP: a dict is not plain pair data.
        string path = WriteBytes("dict.bin", new byte[] { 0x80, 2, (byte)'}', (byte)'.' });
        var e = Assert.Throws<InvalidDataException>(() => InsightFaceBin.Read(path));
        Assert.Contains("0x7d", e.Message);
        Assert.Contains("EMPTY_DICT", e.Message);
        Assert.Contains("byte offset 2", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData("pairs_py2.bin", 1000)]
    [InlineData("pairs_protocol4.bin", 20)]
    [InlineData("pairs_protocol2.bin", 44833)]
    public void TruncatedBin_GivesClearError(string file, int keep)
    {
        byte[] all = File.ReadAllBytes(Fixtures.Path(file));
        string path = WriteBytes("cut_" + file, all[..keep]);
        var e = Assert.Throws<InvalidDataException>(() => PairSetReader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("byte offset", e.Message);
    }

    [Fact]
    public void Bin_WithWrongImageCount_IsRejected()
    {
        // ([b'x'], [True, False]) at protocol 2: 1 image for 2 pairs.
        byte[] bytes = [0x80, 2, (byte)']', (byte)'C', 1, (byte)'x', (byte)'a', (byte)']', (byte)'(', 0x88, 0x89, (byte)'e', 0x86, (byte)'.'];
        string path = WriteBytes("count.bin", bytes);
        var e = Assert.Throws<InvalidDataException>(() => InsightFaceBin.Read(path));
        Assert.Contains("1 images for 2 pairs", e.Message);
    }

    [Fact]
    public void Protocol0Pickle_IsRead()
    {
        // What Python 2's pickle.dumps((['ab', 'c\n'], [True]), 0) writes.
        string text = "((lp0\nS'ab'\np1\naS'c\\n'\np2\na(lp3\nI01\natp4\n.";
        string path = WriteBytes("p0.bin", Encoding.ASCII.GetBytes(text));
        Assert.Equal(PairSetFormat.InsightFaceBin, PairSetReader.DetectFormat(path));
        var (images, same) = InsightFaceBin.Read(path);
        Assert.Equal("ab"u8.ToArray(), images[0]);
        Assert.Equal("c\n"u8.ToArray(), images[1]);
        Assert.Equal(new[] { true }, same);
    }

    /// <summary>What Python 3 writes for pickle.dumps(([b'ab', b'\xff\x00\n', b'\\u', b'\x80('], [True, False]), protocol).</summary>
    [Theory]
    [InlineData(0, "28286c70300a635f636f646563730a656e636f64650a70310a285661620a70320a566c6174696e310a70330a7470340a5270350a6167310a2856ff5c75303030305c75303030610a70360a67330a7470370a5270380a6167310a28565c7530303563750a70390a67330a747031300a527031310a6167310a285680280a7031320a67330a747031330a527031340a61286c7031350a4930310a614930300a61747031360a2e")]
    [InlineData(1, "285d710028635f636f646563730a656e636f64650a71012858020000006162710258060000006c6174696e3171037471045271056801285804000000c3bf000a7106680374710752710868012858020000005c757109680374710a52710b6801285803000000c28028710c680374710d52710e655d710f284930310a4930300a657471102e")]
    [InlineData(2, "80025d710028635f636f646563730a656e636f64650a710158020000006162710258060000006c6174696e31710386710452710568015804000000c3bf000a71066803867107527108680158020000005c757109680386710a52710b68015803000000c28028710c680386710d52710e655d710f288889658671102e")]
    [InlineData(3, "80035d7100284302616271014303ff000a710243025c757103430280287104655d7105288889658671062e")]
    [InlineData(4, "80049522000000000000005d942843026162944303ff000a9443025c75944302802894655d942888896586942e")]
    [InlineData(5, "80059522000000000000005d942843026162944303ff000a9443025c75944302802894655d942888896586942e")]
    public void Python3Pickles_AllProtocols(int protocol, string hex)
    {
        string path = WriteBytes($"p{protocol}.bin", Convert.FromHexString(hex));
        Assert.Equal(PairSetFormat.InsightFaceBin, PairSetReader.DetectFormat(path));
        var (images, same) = InsightFaceBin.Read(path);
        Assert.Equal(new[] { true, false }, same);
        Assert.Equal("ab"u8.ToArray(), images[0]);
        Assert.Equal(new byte[] { 0xff, 0x00, 0x0a }, images[1]);
        Assert.Equal("\\u"u8.ToArray(), images[2]);
        Assert.Equal(new byte[] { 0x80, 0x28 }, images[3]);
    }

    [Fact]
    public void LfwPairsTxt_IsParsed()
    {
        string path = Write("pairs.txt", "2\t2\nAbel_Pacheco\t1\t4\nAkhmed_Zakayev\t1\t3\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\nAnn\t2\tCarl\t10\n" +
                                          "X\t1\t2\nY\t3\t4\nP\t1\tQ\t1\nR\t1\tS\t2\n");
        Assert.Equal(PairSetFormat.LfwPairs, PairSetReader.DetectFormat(path));
        var set = PairSetReader.Load(path, "/data/lfw");
        Assert.Equal(8, set.Count);
        Assert.Equal(new FacePair("Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0004.jpg", true), set.Pairs[0]);
        Assert.Equal(new FacePair("Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg", "Dean_Barker/Dean_Barker_0001.jpg", false), set.Pairs[2]);
        Assert.Equal("/data/lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg", set.ImagePath(set.Pairs[0].Id1));
        Assert.Equal(new[] { true, true, false, false, true, true, false, false }, set.Labels);

        var png = LfwPairs.Parse(path, new PairSetReaderOptions { LfwImageExtension = ".png" });
        Assert.Equal("Abel_Pacheco/Abel_Pacheco_0004.png", png[0].Id2);
    }

    [Fact]
    public void LfwPairs_SingleCountHeader_AndSpaces()
    {
        string path = Write("dev.txt", "1\nAnn 1 2\nAnn 1 Bob 3\n");
        var pairs = LfwPairs.Parse(path);
        Assert.Equal(2, pairs.Count);
        Assert.True(pairs[0].Same);
        Assert.False(pairs[1].Same);
    }

    [Fact]
    public void LfwPairs_BadLine_NamesLineNumber()
    {
        string path = Write("bad.txt", "1 1\nAnn\t1\t2\nAnn\tx\tBob\t3\n");
        var e = Assert.Throws<InvalidDataException>(() => PairSetReader.Load(path));
        Assert.Contains("line 3", e.Message);
        Assert.Contains(path, e.Message);

        string wrongCount = Write("count.txt", "2 1\nAnn\t1\t2\nAnn\t1\tBob\t3\n");
        var c = Assert.Throws<InvalidDataException>(() => LfwPairs.Parse(wrongCount));
        Assert.Contains("4 pair lines", c.Message);
    }

    [Fact]
    public void Tsv_WithHeader_IsParsedAndReadsFiles()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "imgs", "a"));
        File.WriteAllBytes(Path.Combine(_dir, "imgs", "a", "1.jpg"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(_dir, "imgs", "b.jpg"), [4]);
        string path = Write("pairs.tsv", "first\tsecond\tsame\na/1.jpg\tb.jpg\t1\r\na/1.jpg\tb.jpg\tFalse\n\nb.jpg\ta/1.jpg\ttrue\n");
        Assert.Equal(PairSetFormat.PairTsv, PairSetReader.DetectFormat(path));
        var set = PairSetReader.Load(path, Path.Combine(_dir, "imgs"));
        Assert.Equal(new[] { true, false, true }, set.Labels);
        Assert.Equal(new FacePair("a/1.jpg", "b.jpg", true), set.Pairs[0]);
        var (x, y) = set.ReadPair(0);
        Assert.Equal(new byte[] { 1, 2, 3 }, x);
        Assert.Equal(new byte[] { 4 }, y);

        // Without a root the TSV's own folder is the root: the file is then missing, and the error says where.
        var noRoot = PairSetReader.Load(path);
        var e = Assert.Throws<FileNotFoundException>(() => noRoot.ReadPair(0));
        Assert.Contains(Path.Combine(_dir, "a", "1.jpg"), e.Message);
    }

    [Fact]
    public void Tsv_WithoutHeader_AndBadLine()
    {
        string ok = Write("ok.tsv", "a.jpg\tb.jpg\t0\n");
        Assert.False(PairTsv.Parse(ok)[0].Same);

        string bad = Write("bad.tsv", "a.jpg\tb.jpg\t1\na.jpg\tb.jpg\tmaybe\n");
        var e = Assert.Throws<InvalidDataException>(() => PairSetReader.Load(bad));
        Assert.Contains("line 2", e.Message);
        Assert.Contains(bad, e.Message);

        string twoCols = Write("two.tsv", "a.jpg\tb.jpg\t1\na.jpg\tb.jpg\n");
        Assert.Contains("line 2", Assert.Throws<InvalidDataException>(() => PairTsv.Parse(twoCols)).Message);
    }

    [Fact]
    public void UnknownOrEmptyFile_IsRejected()
    {
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => PairSetReader.Load(Write("empty.txt", ""))).Message);
        Assert.Contains("not a recognised pair file",
            Assert.Throws<InvalidDataException>(() => PairSetReader.Load(Write("prose.txt", "hello world\n"))).Message);
        Assert.Throws<FileNotFoundException>(() => PairSetReader.Load(Path.Combine(_dir, "missing.bin")));
    }
}
