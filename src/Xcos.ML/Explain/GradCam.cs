namespace Xcos.ML.Explain;

/// <summary>
/// A verification score computed from the last feature maps of two faces (each C x H x W, row-major CHW),
/// with its gradient. This is the seam Grad-CAM needs: a TorchSharp network supplies the gradient by autograd,
/// a model whose head is affine in the map (an ONNX embedding such as a global depthwise conv plus a linear layer)
/// can supply it analytically.
/// </summary>
public interface IMapScorer
{
    /// <summary>Channels C of each map.</summary>
    int Channels { get; }

    /// <summary>Height H of each map (7 for 112x112 faces).</summary>
    int Height { get; }

    /// <summary>Width W of each map (7 for 112x112 faces).</summary>
    int Width { get; }

    /// <summary>The score of the two maps (for example the cosine of the two embeddings).</summary>
    float Score(float[] map1, float[] map2);

    /// <summary>The score and its gradient with respect to each map (same CHW layout as the maps).</summary>
    MapGradient Gradient(float[] map1, float[] map2);
}

/// <summary>A score and its gradient with respect to both feature maps.</summary>
/// <param name="Score">The score at the given maps.</param>
/// <param name="Gradient1">d score / d map1, CHW.</param>
/// <param name="Gradient2">d score / d map2, CHW.</param>
public sealed record MapGradient(float Score, float[] Gradient1, float[] Gradient2);

/// <summary>Grad-CAM maps of both faces of a pair.</summary>
/// <param name="Score">The explained score (plain cosine).</param>
/// <param name="Cam1">Grad-CAM of face 1, H*W row-major, non-negative.</param>
/// <param name="Cam2">Grad-CAM of face 2.</param>
/// <param name="Height">Map height.</param>
/// <param name="Width">Map width.</param>
public sealed record GradCamResult(float Score, float[] Cam1, float[] Cam2, int Height, int Width);

/// <summary>
/// Grad-CAM (Selvaraju et al.) of a pair score on the last feature maps: channel weights are the spatial mean
/// of the gradient, <c>w_k = mean_hw d score / d A_k</c>, and the map is <c>ReLU(sum_k w_k A_k)</c>.
/// </summary>
public static class GradCam
{
    /// <summary>Grad-CAM of one face from its map and the score's gradient with respect to it.</summary>
    /// <param name="map">Feature map, CHW.</param>
    /// <param name="gradient">d score / d map, CHW.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <returns>H*W non-negative values, row-major.</returns>
    public static float[] FromGradient(ReadOnlySpan<float> map, ReadOnlySpan<float> gradient, int channels, int height, int width)
    {
        if (channels < 1 || height < 1 || width < 1) throw new ArgumentException($"map size {channels}x{height}x{width} must be positive");
        int plane = height * width, n = channels * plane;
        if (map.Length != n) throw new ArgumentException($"map holds {map.Length} values; {channels}x{height}x{width} needs {n}", nameof(map));
        if (gradient.Length != n) throw new ArgumentException($"gradient holds {gradient.Length} values; {channels}x{height}x{width} needs {n}", nameof(gradient));
        var cam = new double[plane];
        for (int k = 0; k < channels; k++)
        {
            var g = gradient.Slice(k * plane, plane);
            double w = 0;
            foreach (var v in g) w += v;
            w /= plane;
            if (w == 0) continue;
            var a = map.Slice(k * plane, plane);
            for (int i = 0; i < plane; i++) cam[i] += w * a[i];
        }
        var result = new float[plane];
        for (int i = 0; i < plane; i++) result[i] = (float)Math.Max(0, cam[i]);
        return result;
    }

    /// <summary>Grad-CAM of both faces through a <see cref="IMapScorer"/>.</summary>
    public static GradCamResult Compute(IMapScorer scorer, float[] map1, float[] map2)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(map1);
        ArgumentNullException.ThrowIfNull(map2);
        int c = scorer.Channels, h = scorer.Height, w = scorer.Width;
        var g = scorer.Gradient(map1, map2);
        return new GradCamResult(g.Score, FromGradient(map1, g.Gradient1, c, h, w), FromGradient(map2, g.Gradient2, c, h, w), h, w);
    }
}
