using Xcos.ML.Images;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Explain;

/// <summary>Batch size, input normalisation, cosine source and device of <see cref="XcosModelScoring"/>.</summary>
public sealed class XcosModelScoringOptions
{
    /// <summary>Faces per forward pass. Default 64.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>Pixel normalisation. Default the xCos <c>(x/255 - 0.5)/0.5</c>.</summary>
    public FaceTensorOptions Normalization { get; set; } = FaceTensorOptions.Default;

    /// <summary>Which embedding the "cosine" score uses. Default <see cref="CosineSource.Grid"/>.</summary>
    public CosineSource Cosine { get; set; } = CosineSource.Grid;

    /// <summary>Compute device. Default CPU.</summary>
    public Device? Device { get; set; }
}
