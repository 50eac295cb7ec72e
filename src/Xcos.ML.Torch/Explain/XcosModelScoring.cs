using TorchSharp;
using Xcos.ML.Explain;
using Xcos.ML.Images;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Explain;

/// <summary>
/// <see cref="IFacePairScoring"/> over a TorchSharp xCos model: scores "xcos" (the model's verification score) and "cosine"
/// (the plain cosine). Each distinct face instance of a call runs through the backbone once, so a face scored against many
/// perturbed copies of another costs one pass.
/// </summary>
public sealed class XcosModelScoring : IFacePairScoring
{
    private readonly XcosModel model;
    private readonly XcosModelScoringOptions options;
    private readonly Device device;

    /// <summary>Wraps <paramref name="model"/> (switched to eval mode on every call).</summary>
    public XcosModelScoring(XcosModel model, XcosModelScoringOptions? options = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        this.options = options ?? new XcosModelScoringOptions();
        if (this.options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), this.options.BatchSize, "BatchSize must be positive");
        if (this.options.Cosine == CosineSource.Target && model.BackboneTarget is null)
            throw new InvalidOperationException("the target cosine was asked for, but this xCos model has no target backbone");
        device = this.options.Device ?? CPU;
    }

    /// <summary>Score names: "xcos" (primary) and "cosine".</summary>
    public IReadOnlyList<string> ScoreNames { get; } = ["xcos", "cosine"];

    /// <inheritdoc />
    public double[][] Score(IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2)
    {
        ArgumentNullException.ThrowIfNull(faces1);
        ArgumentNullException.ThrowIfNull(faces2);
        if (faces1.Count != faces2.Count) throw new ArgumentException($"{faces1.Count} faces 1 but {faces2.Count} faces 2");
        int n = faces1.Count;
        var xcos = new double[n];
        var cos = new double[n];
        if (n == 0) return [xcos, cos];
        model.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // distinct instances of both sides, encoded once
        var unique = new List<RgbImage>();
        var index = new Dictionary<RgbImage, int>(ReferenceEqualityComparer.Instance);
        int Id(RgbImage f)
        {
            ArgumentNullException.ThrowIfNull(f);
            if (!index.TryGetValue(f, out var i)) { i = unique.Count; unique.Add(f); index[f] = i; }
            return i;
        }
        var id1 = faces1.Select(Id).ToArray();
        var id2 = faces2.Select(Id).ToArray();
        var (grid, embed, flat) = Encode(unique);
        for (int start = 0; start < n; start += options.BatchSize)
        {
            using var inner = NewDisposeScope();
            int count = Math.Min(options.BatchSize, n - start);
            var i1 = tensor(id1.AsSpan(start, count).ToArray().Select(v => (long)v).ToArray()).to(device);
            var i2 = tensor(id2.AsSpan(start, count).ToArray().Select(v => (long)v).ToArray()).to(device);
            var s = model.Score(grid.index_select(0, i1), embed.index_select(0, i1), grid.index_select(0, i2), embed.index_select(0, i2));
            var c = (flat.index_select(0, i1) * flat.index_select(0, i2)).sum(1);
            s.Xcos.cpu().to(ScalarType.Float64).data<double>().CopyTo(xcos.AsSpan(start, count));
            c.cpu().to(ScalarType.Float64).data<double>().CopyTo(cos.AsSpan(start, count));
        }
        return [xcos, cos];
    }

    /// <summary>Grids [U,C,7,7], attention embeddings and the normalised embeddings of the cosine, for distinct faces.</summary>
    private (Tensor Grid, Tensor Embed, Tensor Flat) Encode(IReadOnlyList<RgbImage> faces)
    {
        var grids = new List<Tensor>();
        var embeds = new List<Tensor>();
        var flats = new List<Tensor>();
        for (int start = 0; start < faces.Count; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, faces.Count - start);
            var x = ToBatch(faces, start, count, options.Normalization).to(device);
            var g = model.Backbone.Grid(x);
            grids.Add(g.Grid);
            embeds.Add(model.AttentionNet.Embed(g.Grid));
            flats.Add(options.Cosine == CosineSource.Grid ? g.Flat : model.BackboneTarget!.Embed(x));
        }
        return (cat(grids, 0), cat(embeds, 0), cat(flats, 0));
    }

    /// <summary>Faces [start, start+count) as a [count,3,H,W] tensor (all faces must share one size).</summary>
    internal static Tensor ToBatch(IReadOnlyList<RgbImage> faces, int start, int count, FaceTensorOptions normalization)
    {
        int w = faces[start].Width, h = faces[start].Height, size = 3 * w * h;
        var buffer = new float[count * size];
        for (int i = 0; i < count; i++)
        {
            var f = faces[start + i];
            if (f.Width != w || f.Height != h)
                throw new ArgumentException($"face {start + i} is {f.Width}x{f.Height} but face {start} is {w}x{h}; a batch needs one size");
            FaceTensor.ToChw(f, buffer.AsSpan(i * size, size), normalization);
        }
        return tensor(buffer, [count, 3, h, w]);
    }
}
