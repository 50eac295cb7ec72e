namespace Xcos.ML.Onnx;

/// <summary>How activation ranges are taken from the calibration runs.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,
    /// <summary>The lower and upper <see cref="OnnxQuantizerOptions.Percentile"/> of all values seen (clips rare outliers).</summary>
    Percentile,
}

/// <summary>How <see cref="OnnxQuantizer"/> calibrates activations, which nodes it makes int8 and which it keeps float.</summary>
public sealed class OnnxQuantizerOptions
{
    /// <summary>Activation range estimate (default <see cref="CalibrationMethod.Percentile"/>).</summary>
    public CalibrationMethod Method { get; set; } = CalibrationMethod.Percentile;

    /// <summary>Upper percentile kept by <see cref="CalibrationMethod.Percentile"/> (the lower one is 100 minus it). Default 99.999.</summary>
    public double Percentile { get; set; } = 99.999;

    /// <summary>Histogram bins per activation for <see cref="CalibrationMethod.Percentile"/> (default 8192).</summary>
    public int HistogramBins { get; set; } = 8192;

    /// <summary>
    /// Activations as uint8 with a zero point (default, the u8 x s8 form VNNI kernels take) or, when true, as int8
    /// symmetric around zero.
    /// </summary>
    public bool SignedActivations { get; set; }

    /// <summary>Op types whose float weight input is quantized: Conv, Gemm and MatMul unless changed.</summary>
    public ISet<string> OpTypes { get; set; } = new HashSet<string>(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul" };

    /// <summary>
    /// Whether grouped (e.g. depthwise) convolutions are quantized. Default false: one activation scale per tensor fits
    /// their channels badly (on fr_feature, quantizing them took the mean fp32/int8 embedding cosine from 0.997 to 0.993),
    /// and they are a small share of the multiply-adds.
    /// </summary>
    public bool QuantizeGroupedConvolutions { get; set; }

    /// <summary>
    /// Whether a PRelu next to a quantized convolution runs in integer kernels. ONNX Runtime has no integer PRelu, so
    /// without this it runs in float between a DequantizeLinear and a QuantizeLinear. When true it is written as
    /// <c>Relu(y) + (−slope)·Relu(−y)</c> with every value and the constants quantized, which ONNX Runtime runs as a
    /// QLinearLeakyRelu (alpha 0), two products (1x1 depthwise QLinearConv for per-channel slopes, the first with the Relu
    /// folded into its output; QLinearMul for one shared slope) and a QLinearAdd. Default true.
    /// </summary>
    public bool IntegerPRelu { get; set; } = true;

    /// <summary>Node names left in float (e.g. a sensitive first or last layer).</summary>
    public ISet<string> ExcludeNodes { get; set; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// A node whose output is a graph output stays float (its output would have to be rounded to 8 bits to run as an
    /// integer kernel). Default true.
    /// </summary>
    public bool KeepGraphOutputsFloat { get; set; } = true;

    /// <summary>
    /// A node with no quantized node downstream (e.g. the embedding layer before a Reshape) stays float, for the same
    /// reason. Default true.
    /// </summary>
    public bool KeepLastLayersFloat { get; set; } = true;

    /// <summary>
    /// When above 0: nodes are left in float, most harmful first, until the mean cosine between the float and the
    /// quantized model's first output over the calibration set reaches this value (or <see cref="MaxFallbackNodes"/>
    /// are float). Each node's harm costs one quantized run over the calibration set. Default 0 (off).
    /// </summary>
    public double TargetCosine { get; set; }

    /// <summary>The most nodes <see cref="TargetCosine"/> may leave in float (default 8).</summary>
    public int MaxFallbackNodes { get; set; } = 8;

    /// <summary>Free text naming the calibration set, written into the model's metadata (<see cref="OnnxQuantizer.CalibrationKey"/>).</summary>
    public string CalibrationDescription { get; set; } = "";

    /// <summary>Intra-op threads of the calibration session; 0 lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Checks the settings; throws naming the first bad one.</summary>
    public void Validate()
    {
        if (!(Percentile > 50 && Percentile <= 100)) throw new ArgumentOutOfRangeException(nameof(Percentile), Percentile, "percentile must be in (50, 100]");
        if (HistogramBins < 16) throw new ArgumentOutOfRangeException(nameof(HistogramBins), HistogramBins, "at least 16 bins");
        if (OpTypes.Count == 0) throw new ArgumentException("no op types to quantize", nameof(OpTypes));
    }
}
