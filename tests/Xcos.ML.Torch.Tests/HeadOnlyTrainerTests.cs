using System.Globalization;
using TorchSharp;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;
using Xunit;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

[Collection("Training")]
public sealed class HeadOnlyTrainerTests : IClassFixture<TinyFaceSet>
{
    private readonly TinyFaceSet _set;
    public HeadOnlyTrainerTests(TinyFaceSet set) => _set = set;

    /// <summary>A frozen "model" without TorchSharp: fixed random projections of the image to a 512x7x7 map and a 512-d embedding.</summary>
    private sealed class ProjectionSource : IFeatureMapSource
    {
        private readonly float[] _pool = new float[3 * 49];
        public int Channels => 512;
        public int MapSize => 7;
        public int EmbeddingSize => 512;
        public string Description => "projection";
        public int Calls;

        public void Compute(ReadOnlySpan<float> images, int count, Span<float> maps, Span<float> embeddings)
        {
            Calls++;
            var r = new Random(1);
            for (int n = 0; n < count; n++)
            {
                // 16x16-pixel block means of each channel: a 3x7x7 summary, lifted to 512 channels by a fixed mixing
                var img = images.Slice(n * 3 * 112 * 112, 3 * 112 * 112);
                for (int c = 0; c < 3; c++)
                    for (int y = 0; y < 7; y++)
                        for (int x = 0; x < 7; x++)
                        {
                            float s = 0;
                            for (int dy = 0; dy < 16; dy++)
                                for (int dx = 0; dx < 16; dx++) s += img[c * 12544 + (y * 16 + dy) * 112 + x * 16 + dx];
                            _pool[c * 49 + y * 7 + x] = s / 256;
                        }
                var rr = new Random(7);
                for (int k = 0; k < 512; k++)
                {
                    float w0 = (float)rr.NextDouble() - 0.5f, w1 = (float)rr.NextDouble() - 0.5f, w2 = (float)rr.NextDouble() - 0.5f;
                    for (int p = 0; p < 49; p++)
                        maps[n * 512 * 49 + k * 49 + p] = w0 * _pool[p] + w1 * _pool[49 + p] + w2 * _pool[98 + p];
                }
                // embedding: the normalised map averaged over cells of each channel, plus the top-left weighting
                double norm = 0;
                for (int k = 0; k < 512; k++)
                {
                    float v = 0;
                    for (int p = 0; p < 49; p++) v += maps[n * 512 * 49 + k * 49 + p] * (p < 24 ? 1.5f : 0.5f);
                    embeddings[n * 512 + k] = v;
                    norm += v * v;
                }
                for (int k = 0; k < 512; k++) embeddings[n * 512 + k] /= (float)Math.Sqrt(norm);
            }
        }
    }

    private static XcosTrainerOptions Options(int epochs) => new()
    {
        Mode = TrainingMode.Head, TargetCheckpoint = "unused-by-a-custom-source", GridChannels = 8, Epochs = epochs, BatchSize = 4,
        PairsPerEpoch = 16, Threads = 1, Seed = 2, ValidationFolds = 5, EvaluationBatchSize = 8,
        GridLayer = new() { Kind = OptimizerKind.Adam, LearningRate = 1e-2, WeightDecay = 0 },
        Attention = new() { Kind = OptimizerKind.Adam, LearningRate = 1e-2, WeightDecay = 0 },
    };

    [Fact]
    public void CachedMapsTrainTheBranchAndLowerTheMse()
    {
        var source = new ProjectionSource();
        string dir = _set.NewOutputDir();
        using var t = new XcosHeadTrainer(Options(epochs: 12), source, _set.Train(), [_set.Pairs()], dir);
        var r = t.Train();
        // the frozen model ran once per image batch (6 training images x 2 variants, then the validation images), never per epoch
        Assert.Equal(2, t.Cache!.Variants);
        Assert.Equal(6, t.Cache.Count);
        Assert.Equal(2, source.Calls);
        Assert.Equal(12, r.CompletedEpochs);
        Assert.True(r.Epochs[^1].XcosLoss < 0.5 * r.Epochs[0].XcosLoss,
            "MSE per epoch: " + string.Join(", ", r.Epochs.Select(e => e.XcosLoss.ToString("G3", CultureInfo.InvariantCulture))));
        Assert.Equal(10, r.Epochs[^1].Validation[0].Pairs);
        // weights are written under xCos checkpoint names
        var sd = XcosCheckpoint.ReadStateDict(Path.Combine(dir, TrainingFiles.LastWeights));
        Assert.Contains("backbone.conv1x1.0.weight", sd.Keys);
        Assert.Contains("attention.attention.3.weight", sd.Keys);
        Assert.Equal(new long[] { 8, 512, 1, 1 }, sd["backbone.conv1x1.0.weight"].shape);
    }

    [Fact]
    public void HeadResumeIsExactAndComposedModelScoresLikeTheHead()
    {
        var folder = _set.Train();
        string a = _set.NewOutputDir(), b = _set.NewOutputDir();
        using var full = new XcosHeadTrainer(Options(epochs: 2), new ProjectionSource(), folder, null, a);
        var init = full.Head.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        full.Train();
        using (var first = new XcosHeadTrainer(Options(epochs: 1), new ProjectionSource(), folder, null, b))
        {
            XcosCheckpoint.Load(first.Head, init);
            first.Train();
        }
        using var second = new XcosHeadTrainer(Options(epochs: 2), new ProjectionSource(), folder, null, b);
        second.Resume(Path.Combine(b, TrainingFiles.LastCheckpoint));
        second.Train();
        var x = full.Head.state_dict();
        foreach (var (k, v) in second.Head.state_dict()) Assert.True(v.eq(x[k]).all().item<bool>(), k);
    }

    [Fact]
    public void TorchBackboneSourceAndComposedModel()
    {
        // a tiny frozen plain backbone saved as a checkpoint, explained by a head trained on its cached maps
        string dir = _set.NewOutputDir();
        Directory.CreateDirectory(dir);
        string frozen = Path.Combine(dir, "frozen.pth");
        using (var backbone = BackboneFactory.Create("ir", stages: [1, 1, 1, 1])) XcosCheckpoint.Save(backbone, frozen, CheckpointContainer.Bare);
        var options = Options(epochs: 1) with { TargetCheckpoint = frozen, TargetArch = "ir", TargetStages = [1, 1, 1, 1] };
        var source = TorchFeatureMapSource.FromCheckpoint(frozen, "ir", [1, 1, 1, 1]);
        using var t = new XcosHeadTrainer(options, source, _set.Train(), null, dir);
        t.Train();
        using var model = XcosHeadTrainer.ComposeModel(options, Path.Combine(dir, TrainingFiles.LastWeights));
        model.eval(); t.Head.eval();
        using var scope = NewDisposeScope();
        var img = new float[2 * 3 * 112 * 112];
        var loader = new Xcos.ML.Torch.Data.FaceImageLoader();
        loader.Load(_set.Train().Samples[0].Path, img.AsSpan(0, 3 * 112 * 112));
        loader.Load(_set.Train().Samples[4].Path, img.AsSpan(3 * 112 * 112));
        var x = tensor(img, [2, 3, 112, 112]);
        using var _ = no_grad();
        var o = model.Forward(x[0..1], x[1..2]);
        var f = source.Backbone.Features(x);
        var h = t.Head.call(f[0..1], f[1..2]);
        Assert.True((o.Xcos - h.Xcos).abs().max().item<float>() < 1e-5f);
        // the composed target is the frozen model itself
        var e = source.Backbone.Embed(x);
        Assert.True((o.TargetCos! - (e[0] * e[1]).sum()).abs().max().item<float>() < 1e-5f);
    }
}
