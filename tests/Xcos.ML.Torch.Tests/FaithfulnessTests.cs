using TorchSharp;
using Xcos.ML.Explain;
using Xcos.ML.Images;
using Xcos.ML.Torch.Explain;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

public sealed class FaithfulnessTests(TinyXcosFixture f) : IClassFixture<TinyXcosFixture>
{
    private static RgbImage Face(Tensor batch, int i) => FaceTensor.FromChw(batch[i].contiguous().data<float>().ToArray(), 112, 112);

    [Fact]
    public void XcosModelScoring_MatchesTheModel_AndEncodesRepeatedFacesOnce()
    {
        var faces1 = Enumerable.Range(0, 4).Select(i => Face(f.Input1, i)).ToArray();
        var faces2 = Enumerable.Range(0, 4).Select(i => Face(f.Input2, i)).ToArray();
        var scorer = new XcosModelScoring(f.Model, new XcosModelScoringOptions { BatchSize = 3 });
        var s = scorer.Score(faces1, faces2);
        var (xcos, _) = TinyXcosFixture.Expected("xcos.npy");
        var flatCos = (f.Output.Flat1 * f.Output.Flat2).sum(1).data<float>().ToArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(xcos[i], s[0][i], 4);
            Assert.Equal(flatCos[i], s[1][i], 4);
        }
        // one face against all four: same numbers as the matching rows of a full evaluation
        var repeated = scorer.Score(Enumerable.Repeat(faces1[0], 4).ToArray(), faces2);
        Assert.Equal(s[0][0], repeated[0][0], 6);
        var swapped = scorer.Score(faces2, faces1);
        Assert.Equal(s[1][2], swapped[1][2], 5); // the plain cosine is symmetric

        var target = new XcosModelScoring(f.Model, new XcosModelScoringOptions { Cosine = CosineSource.Target });
        var (tcos, _) = TinyXcosFixture.Expected("target_cos.npy");
        var t = target.Score(faces1, faces2);
        for (int i = 0; i < 4; i++) Assert.Equal(tcos[i], t[1][i], 4);
    }

    [Fact]
    public void Evaluate_OnAFixturePair_GivesCurvesFromTheIntactToTheFilledScore()
    {
        var a = Face(f.Input1, 0);
        var b = Face(f.Input2, 0);
        var o = new XcosFaithfulnessOptions { Curves = new FaithfulnessOptions { PatchesPerStep = 25, RandomOrders = 1 } };
        var r = XcosFaithfulness.Evaluate(f.Model, a, b, o);
        var scorer = new XcosModelScoring(f.Model);
        var intact = scorer.Score([a], [b]);
        var filled = scorer.Score([FaithfulnessPatches.MeanColor(a)], [b]);
        foreach (var method in new[] { XcosFaithfulness.XcosMethod, XcosFaithfulness.GradCamMethod, FaithfulnessOptions.RandomMethod })
            for (int s = 0; s < 2; s++)
            {
                var name = scorer.ScoreNames[s];
                var del = r.Find(method, FaithfulnessKind.Deletion, name)!;
                var ins = r.Find(method, FaithfulnessKind.Insertion, name)!;
                Assert.Equal(3, del.Scores.Length);
                Assert.Equal(intact[s][0], del.Scores[0], 4);
                Assert.Equal(filled[s][0], del.Scores[^1], 4);
                Assert.Equal(filled[s][0], ins.Scores[0], 4);
                Assert.Equal(intact[s][0], ins.Scores[^1], 4);
                Assert.True(double.IsFinite(del.Auc) && double.IsFinite(ins.Auc));
            }
    }
}
