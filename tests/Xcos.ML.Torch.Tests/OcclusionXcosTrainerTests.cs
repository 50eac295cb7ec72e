using Google.Protobuf;
using Xcos.ML.Data;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.FaceModels;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;
using Xcos.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>Occlusion-mode training on fr_feature: a few steps of a tiny recipe, Ctrl-C and resume, and the shipped package's parity.</summary>
public sealed class OcclusionXcosTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos_occl_").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static string CelebFaces() => Path.Combine(Path.GetDirectoryName(DevFaces.Root)!, "celeb-faces");

    // a handful of celeb-faces crops: 2 people to fit, 2 to choose settings
    private static (LabelledFaces Fit, LabelledFaces Settings) Faces()
    {
        var folder = ImageFolder.Load(CelebFaces());
        LabelledFaces Take(string[] people, int per)
        {
            var all = LabelledFaces.FromFolder(folder, people);
            var keep = Enumerable.Range(0, all.Faces.Count).GroupBy(i => all.Labels[i]).SelectMany(g => g.Take(per)).ToList();
            return new LabelledFaces(keep.Select(i => all.Faces[i]).ToList(), keep.Select(i => all.Labels[i]).ToList(), all.People);
        }
        return (Take([folder.Identities[0], folder.Identities[1]], 4), Take([folder.Identities[^1], folder.Identities[^2]], 4));
    }

    private static XcosTrainerOptions Tiny(string onnx) => new()
    {
        Mode = TrainingMode.Occlusion, TargetCheckpoint = onnx, FineTuneFrom = MobileFaceNetStage.Conv5, Epochs = 2, BatchSize = 4, PairsPerEpoch = 8,
        SettingsPairs = 20, Threads = 2, EvaluationBatchSize = 16, TensorBoard = false, RankWeight = 1,
        Backbone = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 0 },
        GridLayer = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 0 },
        Attention = new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3, WeightDecay = 0 },
    };

    [DevFacesFact]
    public void A_few_steps_train_the_tail_only_and_a_stopped_run_resumes()
    {
        string onnx = Path.Combine(RealFaces.ModelsDir()!, "fr_feature.onnx");
        var descriptor = FaceModelDescriptor.FrFeature();
        var (fit, settings) = Faces();
        var set = OccludedPairSet.Build("settings", settings.Faces, settings.Labels, 20, 1);
        var o = Tiny(onnx);
        string run = Path.Combine(_dir, "run");
        using var cts = new CancellationTokenSource();
        TrainingResult stopped;
        Dictionary<string, float[]> before;
        using (var trainer = new OcclusionXcosTrainer(o, descriptor.TensorOptions(), fit, set, run))
        {
            before = trainer.Net.Backbone.state_dict().Where(kv => kv.Value.dtype == ScalarType.Float32).ToDictionary(kv => kv.Key, kv => kv.Value.clone().contiguous().data<float>().ToArray());
            // the first Training report comes after step 1: stop there, as Ctrl-C would
            stopped = trainer.Train(new Progress(p => { if (p.Phase == TrainPhase.Training) cts.Cancel(); }), cts.Token);
            Assert.True(stopped.Cancelled);
            Assert.Equal(1, stopped.GlobalStep);
            var after = trainer.Net.Backbone.state_dict();
            // the prefix is never trained; the tail is
            Assert.Equal(before["conv_4.model.0.conv.conv.weight"], after["conv_4.model.0.conv.conv.weight"].contiguous().data<float>().ToArray());
            Assert.NotEqual(before["conv_5.model.0.conv.conv.weight"], after["conv_5.model.0.conv.conv.weight"].contiguous().data<float>().ToArray());
        }
        Assert.True(File.Exists(Path.Combine(run, TrainingFiles.LastCheckpoint)));
        using (var trainer = new OcclusionXcosTrainer(o, descriptor.TensorOptions(), fit, set, run))
        {
            trainer.Resume(Path.Combine(run, TrainingFiles.LastCheckpoint));
            var done = trainer.Train();
            Assert.False(done.Cancelled);
            Assert.Equal(2 * trainer.StepsPerEpoch, done.GlobalStep);
            Assert.Equal(2, done.Epochs.Count);
            Assert.All(done.Epochs, e => Assert.True(double.IsFinite(e.Loss) && e.Loss > 0));
            // every occluder of the settings people is scored, the original cosine beside the learned xCos
            Assert.Equal(FaceOccluders.All.Select(k => "settings-" + FaceOccluders.Name(k)), done.Epochs[^1].Validation.Select(v => v.Name));
            Assert.All(done.Epochs[^1].Validation, v => Assert.InRange(v.Cosine.Auc, 0.5, 1.0));
        }
        Assert.True(File.Exists(Path.Combine(run, TrainingFiles.BestWeights)));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, TrainingFiles.Log)).Length);
    }

    [Fact]
    public void The_cosine_share_is_the_smallest_that_keeps_the_clean_auc_when_more_cosine_only_costs_under_occluders()
    {
        // clean: the cosine separates perfectly, xCos misses a fifth of the same pairs; mask: the reverse
        int n = 100;
        var same = Enumerable.Range(0, n).Select(i => i < n / 2).ToArray();
        var r = new Random(5);
        float Noise() => (float)(r.NextDouble() * 0.1);
        var cleanCos = same.Select(s => (s ? 0.8f : 0.1f) + Noise()).ToArray();
        var cleanX = same.Select((s, i) => (s ? (i % 5 == 0 ? 0.05f : 0.8f) : 0.1f) + Noise()).ToArray();
        var maskCos = same.Select(_ => (float)r.NextDouble()).ToArray();
        var maskX = same.Select(s => (s ? 0.7f : 0.2f) + Noise()).ToArray();
        var x = new Dictionary<FaceOccluder, float[]> { [FaceOccluder.None] = cleanX, [FaceOccluder.Mask] = maskX };
        var c = new Dictionary<FaceOccluder, float[]> { [FaceOccluder.None] = cleanCos, [FaceOccluder.Mask] = maskCos };
        var (w, sweep) = XcosFaceModelPackage.ChooseCosineWeight(x, c, same);
        Assert.Equal(20, sweep.Count);
        var chosen = sweep.Single(s => s.Weight == w);
        Assert.True(w > 0, "pure xCos loses the clean AUC here");
        Assert.True(chosen.Auc[0] >= 0.999, $"clean AUC {chosen.Auc[0]} at w {w}");
        Assert.True(sweep.Single(s => Math.Abs(s.Weight - (w - 0.05)) < 1e-9).Auc[0] < 0.999, "a smaller share would have kept the clean AUC");
        Assert.True(sweep[^1].Auc[1] < chosen.Auc[1], "more cosine costs AUC under the mask");
        Assert.Equal([0.6f * 0.5f + 0.4f * 0.25f], XcosFaceModelPackage.Blend([0.5f], [0.25f], 0.4));
        Assert.Throws<ArgumentException>(() => XcosFaceModelPackage.ChooseCosineWeight(new Dictionary<FaceOccluder, float[]> { [FaceOccluder.Mask] = maskX }, c, same));

        // the gate's agreements: low = the occluded faces' median, high = the clean faces' 5th percentile
        float[] Spread(float from, float to) => [.. Enumerable.Range(0, n).Select(i => from + (to - from) * i / (n - 1))];
        var agreements = new Dictionary<FaceOccluder, (float[] First, float[] Second)>
        {
            [FaceOccluder.None] = (Spread(0.90f, 0.99f), Spread(0.90f, 0.99f)),
            [FaceOccluder.Mask] = (Spread(0.90f, 0.99f), Spread(0.40f, 0.80f)),
        };
        var range = XcosFaceModelPackage.ChooseGateAgreements(agreements)!.Value;
        Assert.Equal(0.60, range.Low, 3);
        Assert.Equal(0.9045, range.High, 3);
        var (gw, _) = XcosFaceModelPackage.ChooseCosineWeight(x, c, same, gate: (agreements, range.Low, range.High));
        var gate = new CosineGate(gw, 1, range.Low, range.High);
        var gatedMask = XcosFaceModelPackage.GatedBlend(maskX, maskCos, agreements[FaceOccluder.Mask], gate);
        // every masked pair's agreement is below high: none is scored by the cosine alone, the lowest half by the occluded share
        Assert.Equal((1 - gw) * maskX[0] + gw * maskCos[0], gatedMask[0], 5);
        Assert.Equal(cleanCos, XcosFaceModelPackage.GatedBlend(cleanX, cleanCos, (Spread(0.95f, 0.99f), Spread(0.95f, 0.99f)), gate));
        // occluded faces that agree as well as clean ones leave no gate
        Assert.Null(XcosFaceModelPackage.ChooseGateAgreements(new Dictionary<FaceOccluder, (float[], float[])>
        {
            [FaceOccluder.None] = (Spread(0.5f, 0.9f), Spread(0.5f, 0.9f)), [FaceOccluder.Mask] = (Spread(0.5f, 0.9f), Spread(0.8f, 0.99f)),
        }));
    }

    [DevFacesFact]
    public void The_package_assembles_from_the_base_model_with_parity_and_refuses_another_base()
    {
        string onnx = Path.Combine(RealFaces.ModelsDir()!, "fr_feature.onnx");
        var descriptor = FaceModelDescriptor.FrFeature();
        var (fit, settings) = Faces();
        var o = Tiny(onnx) with { FineTuneFrom = MobileFaceNetStage.Conv45 };
        using var trainer = new OcclusionXcosTrainer(o, descriptor.TensorOptions(), fit, null, Path.Combine(_dir, "run"));
        // move the tail and its batch norms away from the base weights, as training would
        using (no_grad())
        {
            manual_seed(3);
            foreach (var (name, t) in trainer.Net.Backbone.state_dict())
                if (MobileFaceNet.TailModules(MobileFaceNetStage.Conv45).Any(p => name.StartsWith(p, StringComparison.Ordinal)))
                    if (name.EndsWith("weight", StringComparison.Ordinal) || name.EndsWith("bias", StringComparison.Ordinal) || name.EndsWith("running_mean", StringComparison.Ordinal))
                        t.add_(randn_like(t) * 0.01);
            // and the attention away from its uniform start
            foreach (var (name, t) in trainer.Net.Head.state_dict())
                if (t.dtype == ScalarType.Float32 && !name.EndsWith("running_var", StringComparison.Ordinal)) t.add_(randn_like(t) * 0.1 + (name == "attention.attention.4.weight" ? 1 : 0));
        }
        var pkg = Path.Combine(_dir, "pkg");
        var record = new XcosFaceModelRecord { Data = CelebFaces(), FitPeople = [.. fit.People], SettingsPeople = [.. settings.People], SettingsPairs = 20, CosineWeight = 0.2, CosineWeightSource = "test" };
        var d = XcosFaceModelPackage.Write(trainer.Net, descriptor, onnx, pkg, (0.31, 0.9), record);
        Assert.Equal("xcos", d.Decides);
        Assert.Equal("learned", d.XcosVariant);
        var reread = FaceModelDescriptor.Load(Path.Combine(pkg, "descriptor.json"));
        Assert.Equal(0.31, reread.XcosThreshold);
        Assert.Equal("fine_tuned_tail.bin", reread.TailFile);

        // assembled into a models folder as at fetch time: the original output is fr_feature's, the new map the trained branch's
        var models = Path.Combine(_dir, "models");
        Directory.CreateDirectory(models);
        File.Copy(onnx, Path.Combine(models, "fr_feature.onnx"));
        var assembled = reread.OnnxPath(models, Path.Combine(pkg, "descriptor.json"));
        Assert.Equal(reread.OnnxSha256, FineTunedTail.Sha256(assembled));
        var faces = fit.Faces.Take(3).Select(f => FaceOccluders.Apply(f, FaceOccluder.Mask, new Random(2))).ToList();
        var opts = descriptor.TensorOptions();
        var input = faces.SelectMany(f => FaceTensor.ToChw(f, opts)).ToArray();
        // fr_feature takes one face per run
        var assembledModel = OnnxModelFile.Load(assembled);
        int px = 3 * 112 * 112;
        var runs = Enumerable.Range(0, 3).Select(i => assembledModel.Run(new Dictionary<string, (float[], long[])> { ["input"] = (input[(i * px)..((i + 1) * px)], [1, 3, 112, 112]) }, "output", d.FeatureMapName!)).ToList();
        using var ort = new OnnxFaceEmbedder(descriptor, onnx, 2);
        var original = ort.Embed(faces);
        var embedding = runs.SelectMany(r => r["output"].Data).ToArray();
        for (int i = 0; i < faces.Count; i++)
            for (int k = 0; k < 512; k++) Assert.Equal(original[i].Embedding[k], embedding[i * 512 + k], 5);
        using var scope = NewDisposeScope();
        using var teacher = new MobileFaceNet();
        OnnxMobileFaceNetImport.Load(teacher, onnx);
        teacher.eval();
        trainer.Net.eval();
        Tensor map;
        using (no_grad()) map = trainer.Net.Map(teacher.Prefix(tensor(input, [3, 3, 112, 112]), MobileFaceNetStage.Conv45));
        var torchMap = map.contiguous().data<float>().ToArray();
        var onnxMap = runs.SelectMany(r => r[d.FeatureMapName!].Data).ToArray();
        Assert.Equal(torchMap.Length, onnxMap.Length);
        Assert.True(torchMap.Zip(onnxMap).Max(p => Math.Abs(p.First - p.Second)) <= 1e-4, "the assembled map differs from TorchSharp's");
        Assert.True(torchMap.Zip(original.SelectMany(e => e.FeatureMap)).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the perturbed tail should change the map");

        // the learned head reads the new map and scores as TorchSharp does
        using var head = new LearnedHead(Path.Combine(pkg, LearnedHead.DefaultFileName));
        Assert.Equal("fr_feature_xcos", head.FaceModel);
        int per = 512 * 49;
        // the record's cosine share is in the head: score = 0.8 xCos + 0.2 cosine of the original embeddings
        Assert.True(head.TakesCosine);
        Assert.StartsWith("0.2: test", head.Metadata[LearnedHead.CosineWeightKey]);
        float cos01 = (float)Xcos.ML.Numerics.VectorMath.Cosine(original[0].Embedding, original[1].Embedding);
        var e01 = head.Explain(onnxMap.AsSpan(0, per), onnxMap.AsSpan(per, per), cos01);
        Assert.Equal("anchored", head.Metadata[LearnedHead.FormKey]);
        XcosScores torchScores;
        using (no_grad()) torchScores = trainer.Net.Score(map.narrow(0, 0, 1), map.narrow(0, 1, 1));
        Assert.Equal(0.8 * torchScores.Xcos.item<float>() + 0.2 * cos01, e01.Xcos, 4);
        var torchAtt = torchScores.Attention.contiguous().data<float>().ToArray();
        var torchCells = torchScores.CosMap.contiguous().data<float>().ToArray().Select(v => 0.8f * v + 0.2f * cos01).ToArray();
        Assert.True(torchAtt.Zip(e01.Attention).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5, "attention differs from TorchSharp's");
        Assert.True(torchAtt.Max() - torchAtt.Min() > 1e-3, "the perturbed attention should not be uniform");
        Assert.True(torchCells.Zip(e01.CosMap).Max(p => Math.Abs(p.First - p.Second)) <= 1e-3, "the cell shares differ from TorchSharp's");
        // xCos = sum(cos_map * attention), exactly
        Assert.Equal(e01.Xcos, e01.CosMap.Zip(e01.Attention).Sum(p => (double)p.First * p.Second), 4);

        // with a gate in the record the head takes both original embeddings; its share follows the branches' agreement
        var gate = new CosineGate(0.2, 1, -0.5, 0.5);
        var gatedPkg = Path.Combine(_dir, "pkg-gated");
        XcosFaceModelPackage.Write(trainer.Net, descriptor, onnx, gatedPkg, (0.31, 0.9), new XcosFaceModelRecord
        {
            Data = CelebFaces(), FitPeople = [.. fit.People], SettingsPeople = [.. settings.People], SettingsPairs = 20, CosineWeight = 0.2, CosineWeightSource = "test",
            CosineGate = gate.ToString(), CosineGateSource = "gate test",
        });
        using var gated = new LearnedHead(Path.Combine(gatedPkg, LearnedHead.DefaultFileName));
        Assert.True(gated.TakesEmbeddings);
        Assert.StartsWith(gate + ": gate test", gated.Metadata[LearnedHead.CosineGateKey]);
        var g01 = gated.Explain(onnxMap.AsSpan(0, per), onnxMap.AsSpan(per, per), 1, original[0].Embedding, original[1].Embedding)[0];
        double Agreement(int i)
        {
            using var s = NewDisposeScope();
            using var ng = no_grad();
            var plainEmbedding = trainer.Net.Backbone.EmbeddingHead(map.narrow(0, i, 1)).data<float>().ToArray();
            return Xcos.ML.Numerics.VectorMath.Cosine(plainEmbedding, original[i].Embedding);
        }
        double share = gate.WeightAt(Math.Min(Agreement(0), Agreement(1)));
        Assert.Equal(share, g01.CosineShare!.Value, 4);
        Assert.Equal((1 - share) * torchScores.Xcos.item<float>() + share * cos01, g01.Xcos, 4);

        // another base model, or a damaged tail file, is refused naming the file
        var other = Path.Combine(_dir, "other.onnx");
        var bytes = File.ReadAllBytes(onnx);
        bytes[^1] ^= 1;
        File.WriteAllBytes(other, bytes);
        var e = Assert.Throws<InvalidDataException>(() => FineTunedTail.Assemble(other, Path.Combine(pkg, "fine_tuned_tail.bin")));
        Assert.Contains("SHA-256", e.Message);
        var cut = Path.Combine(_dir, "cut.bin");
        var tail = File.ReadAllBytes(Path.Combine(pkg, "fine_tuned_tail.bin"));
        File.WriteAllBytes(cut, tail[..(tail.Length / 2)]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => FineTunedTail.Read(cut)).Message);
    }

    [DevFacesFact]
    public void The_anchored_head_starts_at_the_branch_cosine_and_trains_through_the_embedding_head()
    {
        string onnx = Path.Combine(RealFaces.ModelsDir()!, "fr_feature.onnx");
        var (fit, _) = Faces();
        using var net = new XcosTailNet(MobileFaceNetStage.Conv5);
        OnnxMobileFaceNetImport.Load(net.Backbone, onnx);
        net.Backbone.eval();
        using var scope = NewDisposeScope();
        var opts = FaceModelDescriptor.FrFeature().TensorOptions();
        var faces = new[] { fit.Faces[0], FaceOccluders.Apply(fit.Faces[1], FaceOccluder.Mask, new Random(1)), fit.Faces[2], fit.Faces[^1] };
        var x = tensor(faces.SelectMany(f => FaceTensor.ToChw(f, opts)).ToArray(), [4, 3, 112, 112]);
        var map = net.Map(net.Backbone.Prefix(x, MobileFaceNetStage.Conv5));
        net.Head.eval();
        var s = net.Score(map.narrow(0, 0, 2), map.narrow(0, 2, 2));
        var e = FaceBackbone.L2Normalize(net.Backbone.EmbeddingHead(map));
        var cos = (e.narrow(0, 0, 2) * e.narrow(0, 2, 2)).sum(1);
        // near-uniform attention: xCos is about the branch's own embedding cosine, and the map's weighted sum is xCos
        Assert.True((s.Attention - 1.0 / 49).abs().max().item<float>() < 0.001);
        Assert.True((s.Xcos - cos).abs().max().item<float>() < 0.01, $"xCos {s.Xcos[0].item<float>()} vs cosine {cos[0].item<float>()}");
        Assert.True(((s.CosMap * s.Attention).sum([1, 2]) - s.Xcos).abs().max().item<float>() < 1e-5);
        // the loss reaches the embedding head and every layer of the attention, the first included
        s.Xcos.sum().backward();
        var grads = net.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        foreach (var name in new[] { "backbone.linear.weight", "head.attention.attention.4.weight", "head.attention.attention.0.weight", "head.attention.embedding_net.0.weight", "head.conv1x1.0.weight" })
            Assert.True(grads[name] is { } g && g.abs().sum().item<float>() > 0, $"no gradient reaches {name}");

        // with a non-uniform attention, the all-pairs matrix of training is Score on every pair
        using var noGrad = no_grad();
        foreach (var (name, p) in net.Head.named_parameters())
            if (name == "attention.attention.4.weight") p.add_(1);
        var m = map.detach();
        var matrix = net.ScoreMatrix(m.narrow(0, 0, 2), m.narrow(0, 1, 3));
        Assert.Equal([2L, 3L], matrix.shape);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
            {
                var one = net.Score(m.narrow(0, i, 1), m.narrow(0, 1 + j, 1));
                Assert.True(one.Attention.max().item<float>() - one.Attention.min().item<float>() > 1e-4);
                Assert.Equal(one.Xcos.item<float>(), matrix[i, j].item<float>(), 5);
            }
    }

    private sealed class Progress(Action<TrainProgress> report) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => report(value);
    }
}
