using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Training;

/// <summary>A TorchSharp backbone as an <see cref="IFeatureMapSource"/> (eval mode, no gradients).</summary>
public sealed class TorchFeatureMapSource : IFeatureMapSource
{
    private readonly FaceBackbone _backbone;
    private readonly Device _device;

    /// <summary>Wraps <paramref name="backbone"/> (switched to eval mode; its parameters are frozen).</summary>
    public TorchFeatureMapSource(FaceBackbone backbone, Device? device = null)
    {
        _backbone = backbone ?? throw new ArgumentNullException(nameof(backbone));
        _device = device ?? CPU;
        _backbone.to(_device);
        _backbone.eval();
        foreach (var p in _backbone.parameters()) p.requires_grad = false;
    }

    /// <summary>Builds a plain backbone (<paramref name="arch"/>, stages) and loads <paramref name="checkpoint"/> into it
    /// (an xCos checkpoint's <c>backbone_target.*</c> keys, or a plain backbone state dict).</summary>
    public static TorchFeatureMapSource FromCheckpoint(string checkpoint, string arch = "ir_se", IReadOnlyList<int>? stages = null, int depth = 50, Device? device = null)
    {
        var (kind, nameDepth) = BackboneFactory.Parse(arch);
        var backbone = kind == "mobilefacenet" ? BackboneFactory.Create(arch) : BackboneFactory.Create(arch, stages: stages ?? BackboneFactory.StagesFor(nameDepth ?? depth));
        TrainerSupport.LoadTarget(backbone, checkpoint);
        return new TorchFeatureMapSource(backbone, device);
    }

    /// <summary>The frozen backbone whose last feature maps and embeddings this source returns.</summary>
    public FaceBackbone Backbone => _backbone;
    /// <inheritdoc />
    public int Channels => FaceBackbone.FeatureChannels;
    /// <inheritdoc />
    public int MapSize => FaceBackbone.MapSize;
    /// <inheritdoc />
    public int EmbeddingSize => 512;
    /// <inheritdoc />
    public string Description => _backbone.Architecture;

    /// <inheritdoc />
    public void Compute(ReadOnlySpan<float> images, int count, Span<float> maps, Span<float> embeddings)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = tensor(images.ToArray(), [count, 3, 112, 112]).to(_device);
        var f = _backbone.Features(x);
        // the plain head is not exposed on its own, so the embedding runs the trunk a second time (cached once per image)
        var e = _backbone.Embed(x);
        f.cpu().contiguous().data<float>().ToArray().AsSpan().CopyTo(maps);
        e.cpu().contiguous().data<float>().ToArray().AsSpan().CopyTo(embeddings);
    }
}
