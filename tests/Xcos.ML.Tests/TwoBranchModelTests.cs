using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.Heads;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using Xcos.ML.Verification;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>
/// A learned-xCos model in the two-branch layout fr_feature_xcos ships: one input, the ORIGINAL embedding, and a copy
/// of the tail whose 7x7 map the learned head reads (here the copy keeps fr_feature's weights, so every score must
/// equal fr_feature's with its learned head). Its map does not feed its embedding, so it has no weight-derived xCos;
/// the verifier, the gallery encoder and the ML.NET pipeline run it with the learned head, which decides.
/// </summary>
public sealed class TwoBranchModel : IDisposable
{
    public const string Prefix = "branch_";

    public TwoBranchModel()
    {
        if (RealFaces.ModelsDir() is not { } models || DevFaces.Dir() is null) return;
        Dir = Directory.CreateTempSubdirectory("xcos_two_branch_").FullName;
        var shipped = Path.GetDirectoryName(FaceModelDescriptor.ShippedPath())!;
        foreach (var f in Directory.GetFiles(shipped)) File.Copy(f, Path.Combine(Dir, Path.GetFileName(f)));
        foreach (var f in new[] { "fr_detect.onnx", "fr_landmark.onnx" }) File.CreateSymbolicLink(Path.Combine(Dir, f), Path.Combine(models, f));
        var d = FaceModelDescriptor.FrFeature();
        var model = OnnxModelFile.Load(Path.Combine(models, d.OnnxFile)).Model.Clone();
        Branch(model.Graph, d.FeatureMapName!);
        File.WriteAllBytes(Path.Combine(Dir, "two_branch.onnx"), model.ToByteArray());
        d.OnnxFile = "two_branch.onnx";
        d.FeatureMapName = Prefix + d.FeatureMapName;
        d.CalibrationFile = null;
        d.Decides = "xcos";
        d.XcosThreshold = 0.5;
        Descriptor = d;
        d.Save(DescriptorPath);
    }

    public string Dir { get; } = "";
    public string DescriptorPath => Path.Combine(Dir, "descriptor.json");
    public FaceModelDescriptor? Descriptor { get; }

    // Copies every node the map depends on under new value names (weights shared): a second branch ending in a map
    // that no embedding is computed from.
    private static void Branch(GraphProto g, string map)
    {
        var producer = new Dictionary<string, NodeProto>();
        foreach (var n in g.Node) foreach (var o in n.Output) producer[o] = n;
        var need = new HashSet<NodeProto>();
        var todo = new Stack<string>([map]);
        while (todo.Count > 0)
            if (producer.TryGetValue(todo.Pop(), out var n) && need.Add(n))
                foreach (var i in n.Input) todo.Push(i);
        foreach (var n in g.Node.Where(need.Contains).ToList())
        {
            var c = n.Clone();
            c.Name = Prefix + n.Name;
            for (int i = 0; i < c.Input.Count; i++) if (producer.ContainsKey(c.Input[i])) c.Input[i] = Prefix + c.Input[i];
            for (int i = 0; i < c.Output.Count; i++) c.Output[i] = Prefix + c.Output[i];
            g.Node.Add(c);
        }
    }

    public void Dispose()
    {
        if (Dir.Length > 0) Directory.Delete(Dir, recursive: true);
    }
}

public class TwoBranchModelTests(TwoBranchModel fixture) : IClassFixture<TwoBranchModel>
{
    [DevFacesFact]
    public void Verifier_runs_the_learned_head_on_the_branch_and_it_decides_while_weights_are_refused()
    {
        var models = RealFaces.ModelsDir();
        using var branch = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = fixture.Dir, DescriptorPath = fixture.DescriptorPath, IntraOpThreads = 1, Variant = XcosVariant.Learned });
        using var original = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = models, IntraOpThreads = 1, Variant = XcosVariant.Learned });
        Assert.Null(branch.Xcos);
        Assert.Equal(("xcos", 0.5), (branch.DecidedBy, branch.Threshold!.Value));
        foreach (var (a, b, _) in OnnxVerifierFixture.DevPairs(300).Where((_, i) => i % 150 == 0))
        {
            var r = branch.Verify(a, b);
            var o = original.Verify(a, b);
            Assert.True(r.IsOk, r.FailureText);
            Assert.Equal(o.Cosine, r.Cosine, 5);
            Assert.Equal(o.Xcos, r.Xcos, 4);
            Assert.Null(r.Contributions);
            Assert.Equal(r.Xcos > 0.5, r.Same);
        }
        var e = Assert.Throws<InvalidDataException>(() => new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = fixture.Dir, DescriptorPath = fixture.DescriptorPath, AlignedInput = true }));
        Assert.Contains("--xcos learned", e.Message);
    }

    [DevFacesFact]
    public void Gallery_encoder_stores_the_branch_map_and_reranks_with_the_head()
    {
        using var encoder = new OnnxFaceEncoder(fixture.Dir, fixture.DescriptorPath, 1, needDetector: true, XcosVariant.Learned);
        Assert.Null(encoder.Head);
        Assert.Equal("map:" + TwoBranchModel.Prefix + fixture.Descriptor!.FeatureMapName![TwoBranchModel.Prefix.Length..], encoder.Model.Codes);
        var (a, b, _) = OnnxVerifierFixture.DevPairs(1)[0];
        var ea = encoder.EncodeFile(a);
        var eb = encoder.EncodeFile(b);
        Assert.Equal(512, ea.Embedding!.Length);
        var ex = encoder.CompareMany(ea.Code!, [eb.Code!, ea.Code!]);
        Assert.Equal(encoder.Learned!.Explain(ea.Code, eb.Code).Xcos, ex[0].Score, 6);
        Assert.Equal(1.0, ex[1].Score, 4);
    }

    [DevFacesFact]
    public void Photo_pipeline_decides_by_the_learned_xcos_without_contributions()
    {
        var ml = new MLContext(seed: 1);
        var pairs = DevFaces.Pairs().Take(2).ToArray();
        var data = ml.Data.LoadFromEnumerable(pairs);
        var fitted = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
        {
            FaceModel = fixture.Descriptor!, FaceModelDirectory = fixture.Dir, ModelsDirectory = fixture.Dir, Xcos = XcosVariant.Learned,
        }).Fit(data);
        var scored = fitted.Transform(data);
        Assert.Null(scored.Schema.GetColumnOrNull("Contributions"));
        var xcos = scored.GetColumn<float>("Xcos").ToArray();
        var score = scored.GetColumn<float>("Score").ToArray();
        using var verifier = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = fixture.Dir, DescriptorPath = fixture.DescriptorPath, IntraOpThreads = 1, Variant = XcosVariant.Learned });
        for (int i = 0; i < pairs.Length; i++)
        {
            Assert.Equal(xcos[i] - 0.5f, score[i], 4);
            Assert.Equal(verifier.Verify(pairs[i].ImagePath1, pairs[i].ImagePath2).Xcos, xcos[i], 3);
        }
    }

    [DevFacesFact]
    public void A_head_that_blends_in_the_cosine_gives_the_same_score_in_the_verifier_the_gallery_and_the_pipeline()
    {
        // the shipped head rewritten to keep a quarter of the model's cosine
        var plainHead = LearnedHead.NextTo(fixture.DescriptorPath)!;
        var blendPath = Path.Combine(fixture.Dir, "blended_head.onnx");
        File.WriteAllBytes(blendPath, XcosOnnxExport.WithCosineWeight(OnnxModelFile.Load(plainHead).Model, 0.25).ToByteArray());
        var options = new OnnxFacePairVerifierOptions { ModelsDir = fixture.Dir, DescriptorPath = fixture.DescriptorPath, IntraOpThreads = 1, Variant = XcosVariant.Learned };
        using var plain = new OnnxFacePairVerifier(options);
        using var blended = new OnnxFacePairVerifier(new OnnxFacePairVerifierOptions { ModelsDir = fixture.Dir, DescriptorPath = fixture.DescriptorPath, IntraOpThreads = 1, Variant = XcosVariant.Learned, LearnedHeadPath = blendPath });
        Assert.True(blended.Learned!.TakesCosine);
        var pairs = DevFaces.Pairs().Take(2).ToArray();
        var want = new double[pairs.Length];
        for (int i = 0; i < pairs.Length; i++)
        {
            var p = plain.Verify(pairs[i].ImagePath1, pairs[i].ImagePath2);
            var b = blended.Verify(pairs[i].ImagePath1, pairs[i].ImagePath2);
            Assert.True(b.IsOk, b.FailureText);
            want[i] = 0.75 * p.Xcos + 0.25 * p.Cosine;
            Assert.Equal(want[i], b.Xcos, 4);
            Assert.Equal(b.Xcos, b.CosMap!.Zip(b.Attention!).Sum(t => (double)t.First * t.Second), 4);
        }

        // the gallery's codes carry the embedding after the map, so re-ranking needs no backbone pass
        using var encoder = new OnnxFaceEncoder(fixture.Dir, fixture.DescriptorPath, 1, needDetector: true, XcosVariant.Learned, blendPath);
        Assert.EndsWith(OnnxFaceEncoder.EmbeddingCodeSuffix, encoder.Model.Codes);
        Assert.Equal(512 * 49 + 512, encoder.Model.CodeLength);
        var e1 = encoder.EncodeFile(pairs[0].ImagePath1);
        var e2 = encoder.EncodeFile(pairs[0].ImagePath2);
        Assert.Equal(want[0], encoder.CompareMany(e1.Code!, [e2.Code!])[0].Score, 4);

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(pairs);
        var scored = ml.Transforms.VerifyFacePairs(new FacePhotoPipelineOptions
        {
            FaceModel = fixture.Descriptor!, FaceModelDirectory = fixture.Dir, ModelsDirectory = fixture.Dir, Xcos = XcosVariant.Learned, LearnedHeadPath = blendPath,
        }).Fit(data).Transform(data);
        var xcos = scored.GetColumn<float>("Xcos").ToArray();
        for (int i = 0; i < pairs.Length; i++) Assert.Equal(want[i], xcos[i], 3);
    }
}
