using TorchSharp;
using Xcos.ML.Images;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch;

/// <summary>One scored pair of aligned faces: the xCos score, its two maps and the plain cosine.</summary>
/// <param name="Score">xCos = sum(CosMap * Attention).</param>
/// <param name="CosMap">Patch cosine map, 7x7 row-major.</param>
/// <param name="Attention">Attention weights, 7x7 row-major, summing to 1.</param>
/// <param name="Cosine">The target backbone's embedding cosine when the model has one, else the cosine of the flattened grid embeddings.</param>
/// <param name="CosineSource">"target" or "grid": which cosine <paramref name="Cosine"/> is.</param>
public sealed record XcosPairResult(float Score, float[] CosMap, float[] Attention, float Cosine, string CosineSource);

/// <summary>Runs a trained <see cref="XcosModel"/> on aligned 112x112 faces (inference only).</summary>
public static class XcosScorer
{
    /// <summary>Scores aligned face pairs in batches; images must be 112x112 RGB.</summary>
    /// <param name="model">The network (eval mode is set).</param>
    /// <param name="pairs">Aligned faces.</param>
    /// <param name="tensor">Normalisation.</param>
    /// <param name="batchSize">Pairs per forward pass.</param>
    /// <param name="flip">Flip test-time augmentation: each face's grid is the sum of the grids of the image and of its
    /// mirror (mirrored back, so cells keep their place), and so is its target embedding; the flattened-grid cosine is
    /// taken on the summed grids.</param>
    public static IReadOnlyList<XcosPairResult> Score(XcosModel model, IReadOnlyList<(RgbImage First, RgbImage Second)> pairs,
        FaceTensorOptions? tensor = null, int batchSize = 32, bool flip = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.eval();
        var device = model.parameters().First().device;
        var results = new List<XcosPairResult>(pairs.Count);
        for (int start = 0; start < pairs.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, pairs.Count - start);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var x1 = Batch(pairs, start, n, p => p.First, tensor).to(device);
            var x2 = Batch(pairs, start, n, p => p.Second, tensor).to(device);
            var o = flip ? FlipForward(model, x1, x2) : model.Forward(x1, x2);
            var cosine = o.TargetCos ?? nn.functional.cosine_similarity(o.Flat1, o.Flat2, dim: 1);
            var xc = o.Xcos.cpu().data<float>().ToArray();
            var cm = o.CosMap.cpu().reshape(n, -1).data<float>().ToArray();
            var at = o.Attention.cpu().reshape(n, -1).data<float>().ToArray();
            var cs = cosine.cpu().data<float>().ToArray();
            int cells = cm.Length / n;
            for (int i = 0; i < n; i++)
                results.Add(new XcosPairResult(xc[i], cm[(i * cells)..((i + 1) * cells)], at[(i * cells)..((i + 1) * cells)], cs[i],
                    o.TargetCos is null ? "grid" : "target"));
        }
        return results;
    }

    // The parts of XcosOutput the scorer reads, from image + mirror sums (dispose scope: the caller's).
    private static XcosOutput FlipForward(XcosModel model, Tensor x1, Tensor x2)
    {
        Tensor Grid(Tensor x) => model.Backbone.Grid(x).Grid + model.Backbone.Grid(x.flip(3)).Grid.flip(3);
        Tensor Flat(Tensor g) => nn.functional.normalize(g.flatten(1), dim: 1);
        var g1 = Grid(x1);
        var g2 = Grid(x2);
        var s = model.Score(g1, g2);
        Tensor? t1 = null, t2 = null, tcos = null;
        if (model.BackboneTarget is { } target)
        {
            t1 = target.Embed(x1) + target.Embed(x1.flip(3));
            t2 = target.Embed(x2) + target.Embed(x2.flip(3));
            tcos = nn.functional.cosine_similarity(t1, t2, dim: 1);
        }
        return new XcosOutput(s.Xcos, s.CosMap, s.Attention, Flat(g1), Flat(g2), g1, g2, tcos, t1, t2);
    }

    private static Tensor Batch(IReadOnlyList<(RgbImage First, RgbImage Second)> pairs, int start, int n,
        Func<(RgbImage First, RgbImage Second), RgbImage> pick, FaceTensorOptions? options)
    {
        const int size = 112;
        var data = new float[n * 3 * size * size];
        for (int i = 0; i < n; i++)
        {
            var img = pick(pairs[start + i]);
            if (img.Width != size || img.Height != size)
                throw new ArgumentException($"pair {start + i}: expected an aligned {size}x{size} face, got {img.Width}x{img.Height} (align it first).");
            FaceTensor.ToChw(img, data.AsSpan(i * 3 * size * size, 3 * size * size), options);
        }
        return tensor(data, [n, 3, size, size]);
    }
}
