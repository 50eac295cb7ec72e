using TorchSharp;
using Xcos.ML.Explain;
using Xcos.ML.Figures;
using Xcos.ML.Images;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Explain;

/// <summary>
/// Grad-CAM of the plain cosine of an xCos model, on the last 7x7 feature map of each face (the baseline the original
/// xCos repository compares against): <c>w_k = mean_hw d cos / d A_k</c>, <c>cam = ReLU(sum_k w_k A_k)</c>.
/// </summary>
public static class XcosGradCam
{
    /// <summary>Grad-CAM of every pair of a batch.</summary>
    /// <param name="model">The network; it runs in eval mode (its mode is restored afterwards).</param>
    /// <param name="x1">Faces 1, [B,3,112,112], normalised as the model expects.</param>
    /// <param name="x2">Faces 2, same shape.</param>
    /// <param name="source">Which embedding's cosine is explained. Default the grid embeddings.</param>
    /// <returns>One result per pair: the cosine and a 7x7 map per face.</returns>
    public static GradCamResult[] Compute(XcosModel model, Tensor x1, Tensor x2, CosineSource source = CosineSource.Grid)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(x1);
        ArgumentNullException.ThrowIfNull(x2);
        if (x1.dim() != 4 || !x1.shape.SequenceEqual(x2.shape))
            throw new ArgumentException($"faces must be two [B,3,H,W] batches of one shape, got [{string.Join(",", x1.shape)}] and [{string.Join(",", x2.shape)}]");
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            var backbone = BackboneHeads.Backbone(model, source);
            var head = BackboneHeads.Embedding(backbone, source);
            Tensor f1, f2;
            using (no_grad())
            {
                f1 = backbone.Features(x1);
                f2 = backbone.Features(x2);
            }
            var (cos, cam1, cam2) = CamFromMaps(head, f1, f2);
            return ToResults(cos, cam1, cam2);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    /// <summary>
    /// Cosine and Grad-CAM of feature maps [B,C,H,W] through an embedding head; the maps are detached leaves, so only
    /// the head is differentiated and no parameter gradient is touched.
    /// </summary>
    internal static (Tensor Cos, Tensor Cam1, Tensor Cam2) CamFromMaps(Func<Tensor, Tensor> head, Tensor f1, Tensor f2)
    {
        var a1 = f1.detach().requires_grad_(true);
        var a2 = f2.detach().requires_grad_(true);
        Tensor cos, g1, g2;
        using (enable_grad())
        {
            cos = (head(a1) * head(a2)).sum(1);
            var g = autograd.grad([cos.sum()], [a1, a2]);
            g1 = g[0];
            g2 = g[1];
        }
        return (cos.detach(), Cam(a1.detach(), g1), Cam(a2.detach(), g2));
    }

    /// <summary>ReLU(sum_k mean_hw(g_k) * a_k) -> [B,H,W].</summary>
    internal static Tensor Cam(Tensor maps, Tensor gradients)
        => nn.functional.relu((gradients.mean([2L, 3L], keepdim: true) * maps).sum(1));

    private static GradCamResult[] ToResults(Tensor cos, Tensor cam1, Tensor cam2)
    {
        int b = (int)cos.shape[0], h = (int)cam1.shape[1], w = (int)cam1.shape[2];
        var c = cos.cpu().to(ScalarType.Float32).data<float>().ToArray();
        var m1 = cam1.cpu().contiguous().to(ScalarType.Float32).data<float>().ToArray();
        var m2 = cam2.cpu().contiguous().to(ScalarType.Float32).data<float>().ToArray();
        int plane = h * w;
        return Enumerable.Range(0, b)
            .Select(i => new GradCamResult(c[i], m1.AsSpan(i * plane, plane).ToArray(), m2.AsSpan(i * plane, plane).ToArray(), h, w))
            .ToArray();
    }

    /// <summary>Grad-CAM of one face, divided by its maximum, blended over it (heat colour map on [0, 1], smooth), as PNG bytes.</summary>
    public static byte[] RenderOverlayPng(RgbImage face, float[] cam, int gridSize = 7, MapOverlayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(face);
        ArgumentNullException.ThrowIfNull(cam);
        var o = options ?? new MapOverlayOptions { Title = "Grad-CAM of the plain cosine (/ max)", OpacityByMagnitude = true, Opacity = 0.7f, Min = 0, Max = 1 };
        return MapOverlay.RenderPng(face.Pixels, face.Width, face.Height, Normalize(cam), gridSize, gridSize, o);
    }

    /// <summary>The map divided by its maximum (an all-zero map stays zero).</summary>
    public static float[] Normalize(float[] cam)
    {
        ArgumentNullException.ThrowIfNull(cam);
        float max = cam.Length == 0 ? 0 : cam.Max();
        return max > 0 ? cam.Select(v => v / max).ToArray() : (float[])cam.Clone();
    }
}

/// <summary>
/// <see cref="IMapScorer"/> over an xCos model's embedding head: the plain cosine of two 512x7x7 feature maps and its
/// autograd gradient. The reference implementation of the seam that analytic (affine-head) scorers also fill.
/// </summary>
public sealed class TorchMapScorer : IMapScorer
{
    private readonly XcosModel model;
    private readonly Func<Tensor, Tensor> head;
    private readonly Device device;

    /// <summary>Wraps <paramref name="model"/> (used in eval mode) for the given cosine.</summary>
    public TorchMapScorer(XcosModel model, CosineSource source = CosineSource.Grid, Device? device = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        head = BackboneHeads.Embedding(BackboneHeads.Backbone(model, source), source);
        this.device = device ?? CPU;
    }

    /// <inheritdoc />
    public int Channels => FaceBackbone.FeatureChannels;

    /// <inheritdoc />
    public int Height => FaceBackbone.MapSize;

    /// <inheritdoc />
    public int Width => FaceBackbone.MapSize;

    /// <summary>The feature maps of faces [B,3,112,112] as CHW arrays (what <see cref="Score"/> and <see cref="Gradient"/> take).</summary>
    public float[][] Maps(Tensor faces, CosineSource source = CosineSource.Grid)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        model.eval();
        var f = BackboneHeads.Backbone(model, source).Features(faces.to(device)).cpu().contiguous();
        int n = (int)f.shape[0];
        var all = f.data<float>().ToArray();
        int size = Channels * Height * Width;
        return Enumerable.Range(0, n).Select(i => all.AsSpan(i * size, size).ToArray()).ToArray();
    }

    /// <inheritdoc />
    public float Score(float[] map1, float[] map2)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        model.eval();
        return (head(Tensor(map1, nameof(map1))) * head(Tensor(map2, nameof(map2)))).sum().item<float>();
    }

    /// <inheritdoc />
    public MapGradient Gradient(float[] map1, float[] map2)
    {
        using var scope = NewDisposeScope();
        model.eval();
        var a1 = Tensor(map1, nameof(map1)).requires_grad_(true);
        var a2 = Tensor(map2, nameof(map2)).requires_grad_(true);
        using (enable_grad())
        {
            var cos = (head(a1) * head(a2)).sum();
            var g = autograd.grad([cos], [a1, a2]);
            return new MapGradient(cos.item<float>(),
                g[0].cpu().contiguous().data<float>().ToArray(), g[1].cpu().contiguous().data<float>().ToArray());
        }
    }

    private Tensor Tensor(float[] map, string name)
    {
        ArgumentNullException.ThrowIfNull(map, name);
        int size = Channels * Height * Width;
        if (map.Length != size) throw new ArgumentException($"{name} holds {map.Length} values; a {Channels}x{Height}x{Width} map needs {size}", name);
        return tensor(map, [1, Channels, Height, Width]).to(device);
    }
}
