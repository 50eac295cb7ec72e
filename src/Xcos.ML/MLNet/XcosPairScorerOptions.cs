using Xcos.ML.Metrics;
using Xcos.ML.Onnx;

namespace Xcos.ML.MLNet;

/// <summary>How <see cref="XcosPairScorer"/> chooses the decision threshold from labelled pairs.</summary>
public enum XcosThresholdSelection
{
    /// <summary>
    /// The first threshold of the protocol's grid (<see cref="VerificationOptions"/>: -1 to 1 in steps of 0.005) with the
    /// highest accuracy over all labelled pairs ("same" when score &gt; threshold): <see cref="VerificationReport.BestThreshold"/>.
    /// Works with any number of pairs.
    /// </summary>
    BestAccuracy,

    /// <summary>
    /// The mean of the thresholds that the k-fold protocol chooses for its folds: <see cref="VerificationReport.ThresholdMean"/>.
    /// Needs at least <see cref="VerificationOptions.Folds"/> pairs.
    /// </summary>
    MeanFoldThreshold,
}

/// <summary>Options of <see cref="XcosPairScorer"/> (<c>mlContext.Transforms.ScoreXcosPairs</c>).</summary>
/// <remarks>
/// The pair head comes from exactly one of <see cref="ModelBytes"/>, <see cref="ModelPath"/> (an ONNX pair-head model
/// with the value names of <see cref="XcosOnnxExport.BuildPairHeadModel"/>) or <see cref="Weights"/> (the same weights
/// as the embedding model). With weights, the head reads the face-code columns when both are present in the data
/// (computed once per face by the embedding model) and computes the face codes from the grids otherwise.
/// </remarks>
public sealed class XcosPairScorerOptions
{
    /// <summary>ONNX pair-head model as bytes. Default null.</summary>
    public byte[]? ModelBytes { get; set; }

    /// <summary>ONNX pair-head model file. Default null.</summary>
    public string? ModelPath { get; set; }

    /// <summary>xCos weights by state-dict name (the <c>attention.*</c> entries are used). Default null.</summary>
    public IReadOnlyDictionary<string, WeightTensor>? Weights { get; set; }

    /// <summary>Export settings used with <see cref="Weights"/> (attention temperature, BN folding). Default: <see cref="XcosOnnxExportOptions"/> defaults.</summary>
    public XcosOnnxExportOptions ExportOptions { get; set; } = new();

    /// <summary>Grid column of face 1 (C x 7 x 7 Single). Default "Grid1".</summary>
    public string Grid1ColumnName { get; set; } = "Grid1";

    /// <summary>Grid column of face 2. Default "Grid2".</summary>
    public string Grid2ColumnName { get; set; } = "Grid2";

    /// <summary>Face-code column of face 1 (16 x 7 x 7 Single), used when present; null never uses face-code columns. Default "FaceCode1".</summary>
    public string? FaceCode1ColumnName { get; set; } = "FaceCode1";

    /// <summary>Face-code column of face 2, used when present. Default "FaceCode2".</summary>
    public string? FaceCode2ColumnName { get; set; } = "FaceCode2";

    /// <summary>
    /// Input: the target embedding of face 1 (the frozen model xCos is trained to follow), used when both target columns
    /// are present; then <see cref="CosineColumnName"/> is their cosine. Default "TargetEmbedding1".
    /// </summary>
    public string? TargetEmbedding1ColumnName { get; set; } = "TargetEmbedding1";

    /// <summary>Input: the target embedding of face 2. Default "TargetEmbedding2".</summary>
    public string? TargetEmbedding2ColumnName { get; set; } = "TargetEmbedding2";

    /// <summary>
    /// Inputs: the status texts of the two faces (<see cref="Images.FaceStatus"/>: "ok" or the failure), used when
    /// both are present. A row where either is not "ok" gets Score and Probability NaN and PredictedLabel false, and is
    /// left out when Fit chooses the threshold. Defaults "FaceStatus1", "FaceStatus2".
    /// </summary>
    public string? Status1ColumnName { get; set; } = "FaceStatus1";

    /// <inheritdoc cref="Status1ColumnName"/>
    public string? Status2ColumnName { get; set; } = "FaceStatus2";

    /// <summary>
    /// Output: the decision margin in ML.NET's binary-classification convention, <c>Xcos - threshold</c> (same person when
    /// &gt; 0), NaN for a row whose faces are not both ok. Default "Score".
    /// </summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Output: the raw xCos score (the attention-weighted sum of the patch cosines). Default "Xcos".</summary>
    public string XcosColumnName { get; set; } = "Xcos";

    /// <summary>
    /// Output: the probability of "same person" from a Platt calibrator fitted on the margins of the labelled pairs at
    /// Fit; NaN when Fit saw no labels (a given threshold without labels), and for rows whose faces are not ok. Default "Probability".
    /// </summary>
    public string? ProbabilityColumnName { get; set; } = "Probability";

    /// <summary>Output: the plain cosine of the two flattened, L2-normalised grids; null for none. Default "GridCosine".</summary>
    public string? GridCosineColumnName { get; set; } = "GridCosine";

    /// <summary>Output: the patch-wise cosine map (49 Single, row-major 7 x 7); null for none. Default "CosineMap".</summary>
    public string? CosineMapColumnName { get; set; } = "CosineMap";

    /// <summary>Output: the attention weights (49 Single, summing to 1); null for none. Default "Attention".</summary>
    public string? AttentionColumnName { get; set; } = "Attention";

    /// <summary>
    /// Output: the cosine of the target embeddings (the frozen model's own cosine, the number xCos is trained to follow)
    /// when the target columns are present, else the grid cosine; null for none. Default "Cosine".
    /// </summary>
    public string? CosineColumnName { get; set; } = "Cosine";

    /// <summary>Output: "same identity" (Boolean), <c>Score &gt; 0</c>, i.e. xCos above the threshold and both faces ok; null for none. Default "PredictedLabel".</summary>
    public string? PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>
    /// Decision threshold on the score. Default null: Fit chooses it from the <see cref="LabelColumnName"/> column as
    /// <see cref="ThresholdSelection"/> says. A given threshold wins over the labels.
    /// </summary>
    public float? Threshold { get; set; }

    /// <summary>Boolean column of "same identity" labels that Fit chooses the threshold from. Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Threshold rule for labelled pairs. Default <see cref="XcosThresholdSelection.BestAccuracy"/>.</summary>
    public XcosThresholdSelection ThresholdSelection { get; set; } = XcosThresholdSelection.BestAccuracy;

    /// <summary>Threshold grid and folds of the protocol used to choose the threshold. Default: the standard 10-fold protocol.</summary>
    public VerificationOptions Verification { get; set; } = new();

    /// <summary>GPU device for ONNX Runtime; null runs on the CPU. Default null.</summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>Run on the CPU when the GPU cannot be used. Default false.</summary>
    public bool FallbackToCpu { get; set; }
}
