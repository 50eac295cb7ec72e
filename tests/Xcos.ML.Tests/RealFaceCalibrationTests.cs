using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Metrics;
using Xcos.ML.Numerics;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The shipped fr_feature calibration (xCos on the cosine's scale, threshold set on people) on dev-faces identities it was not fitted on.</summary>
public class RealFaceCalibrationTests
{
    // scripts/real-faces/Calibrate.cs holds these four identities out of every fit
    private static readonly string[] HeldOut = ["Colin_Powell", "Gerhard_Schroeder", "Jacques_Chirac", "Vladimir_Putin"];

    [RealModelsFact]
    public void Shipped_xcos_meets_the_targets_on_held_out_identities()
    {
        var dev = DevFaces.Root;
        using var v = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = RealFaces.ModelsDir(), IntraOpThreads = 2 });
        foreach (var id in HeldOut) Assert.DoesNotContain(id, v.Descriptor.ThresholdSource);
        var photos = HeldOut.SelectMany(id => Directory.GetFiles(Path.Combine(dev, "photos", id), "*.jpg").Order().Select(f => (Id: id, File: f))).ToList();
        Assert.Equal(40, photos.Count);
        var emb = photos.Select(p =>
        {
            var aligned = v.Analyse(ImageIO.Load(p.File), p.File).Aligned ?? throw new InvalidDataException($"{p.File}: no face found");
            return v.Embedder.Embed([aligned])[0];
        }).ToList();
        var xcos = new List<double>(); var cos = new List<double>(); var same = new List<bool>();
        for (int i = 0; i < emb.Count; i++)
            for (int j = i + 1; j < emb.Count; j++)
            {
                var ex = v.Xcos!.Explain(emb[i].FeatureMap, emb[j].FeatureMap);
                Assert.Equal(ex.Xcos, ex.CosMap.Zip(ex.Attention).Sum(t => (double)t.First * t.Second), 5);
                xcos.Add(ex.Xcos);
                cos.Add(VectorMath.Cosine(emb[i].Embedding, emb[j].Embedding));
                same.Add(photos[i].Id == photos[j].Id);
            }
        Assert.Equal(780, cos.Count);
        double gap = xcos.Zip(cos).Average(t => Math.Abs(t.First - t.Second));
        double agree = xcos.Zip(cos).Average(t => (t.First >= v.Threshold) == (t.Second >= v.Threshold) ? 1.0 : 0.0);
        double aucX = VerificationMetrics.Auc(xcos.ToArray(), same.ToArray()), aucC = VerificationMetrics.Auc(cos.ToArray(), same.ToArray());
        Assert.True(gap <= 0.05, $"mean |xCos - cosine| {gap:F4} > 0.05");
        Assert.True(agree >= 0.97, $"verdict agreement {agree:P1} < 97 % at threshold {v.Threshold}");
        Assert.True(aucX >= aucC - 0.003, $"xCos AUC {aucX:F4} < cosine AUC {aucC:F4} - 0.003");
    }
}
