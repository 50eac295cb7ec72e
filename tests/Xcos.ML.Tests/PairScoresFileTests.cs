using Xcos.ML.Metrics;
using Xunit;

namespace Xcos.ML.Tests;

public class PairScoresFileTests
{
    private static readonly PairScoreRow[] Rows =
    [
        new("photos/a/a_1.jpg", "photos/a/a_2.jpg", true, 0.61234567890123, 0.6, "ok"),
        new("photos/a/a_1.jpg", "photos/b/b_1.jpg", false, -0.0421, 0.125, "ok"),
        new("photos/c/c_1.jpg", "photos/a/a_2.jpg", true, null, null, "no_face: photos/c/c_1.jpg"),
    ];

    [Fact]
    public void Rows_round_trip_with_header_variant_and_empty_scores_for_skipped_pairs()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-scores").FullName, "scores.tsv");
        PairScoresFile.Write(path, "weights/kernel/raw/affine(a=7,b=-6)", Rows);
        var lines = File.ReadAllLines(path);
        Assert.Equal("file1\tfile2\tsame\txcos\tcosine\tstatus\tvariant", lines[0]);
        Assert.Equal("photos/c/c_1.jpg\tphotos/a/a_2.jpg\t1\t\t\tno_face: photos/c/c_1.jpg\tweights/kernel/raw/affine(a=7,b=-6)", lines[3]);
        var back = PairScoresFile.Read(path);
        Assert.Equal(Rows, back.Select(r => r.Row));
        Assert.All(back, r => Assert.Equal("weights/kernel/raw/affine(a=7,b=-6)", r.Variant));
    }

    [Fact]
    public void A_field_with_a_tab_is_refused_and_the_existing_file_is_kept()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-scores").FullName, "scores.tsv");
        File.WriteAllText(path, "keep me");
        var bad = Rows.Append(new PairScoreRow("x\ty.jpg", "z.jpg", false, 0.1, 0.1, "ok"));
        var e = Assert.Throws<ArgumentException>(() => PairScoresFile.Write(path, "v", bad));
        Assert.Contains("pair 4", e.Message);
        Assert.Equal("keep me", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void Reading_a_bad_row_names_the_line()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-scores").FullName, "scores.tsv");
        File.WriteAllLines(path, ["file1\tfile2\tsame\txcos\tcosine\tstatus\tvariant", "a\tb\t1\t0.5\tzero\tok\tv"]);
        var e = Assert.Throws<InvalidDataException>(() => PairScoresFile.Read(path));
        Assert.Contains("line 2", e.Message);
        Assert.Contains("cosine", e.Message);
    }
}
