namespace Xcos.ML.Heads;

/// <summary>Which xCos explains (and, for checkpoints, decides) a verification.</summary>
public enum XcosVariant
{
    /// <summary>Weight-derived from an ONNX face model's own affine head; the model's cosine decides.</summary>
    Weights,
    /// <summary>The paper's grid layer and attention trained head-only on an ONNX face model's cosine; the model's cosine decides.</summary>
    Learned,
    /// <summary>A TorchSharp xCos checkpoint: its own xCos score decides.</summary>
    Checkpoint,
}

/// <summary>Text forms of <see cref="XcosVariant"/> ("weights", "learned", "checkpoint"), as the CLI and JSON write them.</summary>
public static class XcosVariantText
{
    /// <summary>The name used on the command line and in JSON ("weights", "learned", ...).</summary>
    public static string ToText(this XcosVariant variant) => variant switch
    {
        XcosVariant.Weights => "weights",
        XcosVariant.Learned => "learned",
        XcosVariant.Checkpoint => "checkpoint",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "unknown xCos variant"),
    };

    /// <summary>Parses "weights" or "learned" (the variants an ONNX face model can use).</summary>
    /// <exception cref="ArgumentException">Anything else.</exception>
    public static XcosVariant ParseOnnx(string text) => text switch
    {
        "weights" => XcosVariant.Weights,
        "learned" => XcosVariant.Learned,
        _ => throw new ArgumentException($"xcos variant \"{text}\" is not available for ONNX face models; use \"weights\" or \"learned\""),
    };
}
