using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Networks;

/// <summary>
/// ArcFace (additive angular margin): cos(theta + m) at the true class; where theta + m > pi
/// (cos(theta) &lt;= cos(pi - m)) it falls back to cos(theta) - sin(m)*m, as the original does.
/// </summary>
public sealed class ArcFaceHead : MarginHead
{
    /// <summary>ArcFace with the original defaults: s = 64, m = 0.5 rad.</summary>
    public ArcFaceHead(int embeddingSize, int classes, double scale = 64.0, double margin = 0.5)
        : base(nameof(ArcFaceHead), embeddingSize, classes, scale, margin) { }

    /// <summary>cos(theta + m), or cos(theta) - m sin(m) past pi - m.</summary>
    protected override Tensor ApplyMargin(Tensor cos)
    {
        double cosM = Math.Cos(Margin), sinM = Math.Sin(Margin);
        double mm = sinM * Margin, th = Math.Cos(Math.PI - Margin);
        var sin = (1 - cos * cos).sqrt();
        var cosThetaM = cos * cosM - sin * sinM;
        return where(cos - th <= 0, cos - mm, cosThetaM);
    }
}
