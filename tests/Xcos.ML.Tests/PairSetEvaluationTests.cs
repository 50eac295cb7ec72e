using Xcos.ML.Data;
using Xcos.ML.Verification;
using Xunit;
using static Xcos.ML.Tests.FacePairVerifierTests;

namespace Xcos.ML.Tests;

/// <summary>A pair set verified and scored in the library (what `xcos eval` prints), on the mean-colour fake model.</summary>
public sealed class PairSetEvaluationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-pairset-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tsv(params string[] lines)
    {
        Png(_dir, "red1.png", 200, 10, 10);
        Png(_dir, "red2.png", 190, 20, 10);
        Png(_dir, "green.png", 10, 200, 10);
        Png(_dir, "blue.png", 10, 10, 200);
        var path = Path.Combine(_dir, "pairs.tsv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void ScoresWhatItCanAndNamesTheRowsItCannot()
    {
        var set = PairSetReader.Load(Tsv("red1.png\tred2.png\t1", "red1.png\tgone.png\t1", "red1.png\tgreen.png\t0", "red2.png\tred1.png\t1",
            "green.png\tblue.png\t0", "blue.png\tred1.png\t0"));
        using var v = new MeanColourVerifier(0.9);
        var e = PairSetEvaluation.Evaluate(v, set, maxPairs: 5);
        Assert.Equal(5, e.Count);
        Assert.Equal([0, 2, 3, 4], e.Scored);
        var gone = Assert.Single(e.Unscored);
        Assert.Equal(2, gone.Row);
        Assert.Equal("gone.png", gone.Id2);
        Assert.Contains("missing_file", gone.Reason);
        Assert.Equal(4, e.Xcos.Pairs);
        Assert.Equal(4, e.Protocol.Folds);
        Assert.Equal([true, false, true, false], e.ScoredSame);
        // same colours score high, different colours low: the fake separates the scored pairs
        Assert.Equal(1.0, e.Cosine.Auc);
        var rows = e.ScoreRows().ToList();
        Assert.Equal(5, rows.Count);
        Assert.Equal("ok", rows[0].Status);
        Assert.Null(rows[1].Xcos);
        Assert.StartsWith("gone.png: missing_file", rows[1].Status);
    }

    [Fact]
    public void ASetWithOnlyOneKindOfScoredPairIsRefusedWithTheReasons()
    {
        var path = Tsv("red1.png\tred2.png\t1", "red1.png\tgone.png\t0", "red2.png\tred1.png\t1");
        using var v = new MeanColourVerifier(0.9);
        var ex = Assert.Throws<InvalidDataException>(() => PairSetEvaluation.Evaluate(v, PairSetReader.Load(path)));
        Assert.Contains(path, ex.Message);
        Assert.Contains("2 of 3 pairs could be scored", ex.Message);
        Assert.Contains("(skipped: 1); reasons: 1 x '", ex.Message);
    }
}
