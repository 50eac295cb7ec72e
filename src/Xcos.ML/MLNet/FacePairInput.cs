using Microsoft.ML.Data;

namespace Xcos.ML.MLNet;

/// <summary>
/// The input row of <see cref="XcosPipeline"/> with its default column names: two image paths, five landmarks per
/// face (x1, y1, ..., x5, y5 in source pixels: left eye, right eye, nose tip, left and right mouth corner) and,
/// for choosing the threshold at Fit, whether the two faces are the same person.
/// </summary>
public sealed class FacePairInput
{
    /// <summary>Path of the image of face 1.</summary>
    public string ImagePath1 { get; set; } = "";

    /// <summary>Path of the image of face 2.</summary>
    public string ImagePath2 { get; set; } = "";

    /// <summary>Landmarks of face 1.</summary>
    [VectorType(10)] public float[] Landmarks1 { get; set; } = [];

    /// <summary>Landmarks of face 2.</summary>
    [VectorType(10)] public float[] Landmarks2 { get; set; } = [];

    /// <summary>True when both faces are the same person (used only to choose the threshold).</summary>
    public bool Label { get; set; }

    /// <summary>The ArcFace template as landmarks: for faces already aligned to 112x112 the alignment is then the identity.</summary>
    public static float[] AlignedLandmarks()
    {
        var p = Alignment.ArcFaceTemplate.Points112;
        var flat = new float[10];
        for (int i = 0; i < 5; i++) { flat[2 * i] = (float)p[i].X; flat[2 * i + 1] = (float)p[i].Y; }
        return flat;
    }
}

/// <summary>The scored row of a fitted <see cref="XcosPipeline"/> (default column names), for checkpoints and face models alike.</summary>
public sealed class FacePairPrediction
{
    /// <summary>
    /// Decision margin, the deciding score minus its threshold: <c>Cosine - threshold</c> for a face model (the model's own
    /// cosine decides; <c>Xcos - xcos_threshold</c> when its descriptor says it decides by xCos), <c>Xcos - threshold</c>
    /// for a checkpoint. Same person when &gt; 0; NaN when a face is not ok.
    /// </summary>
    public float Score { get; set; }

    /// <summary>Score &gt; 0 (never true for a row whose faces are not both ok).</summary>
    public bool PredictedLabel { get; set; }

    /// <summary>Probability of "same person" (Platt calibration fitted on the labelled pairs at Fit); NaN when a face is not ok.</summary>
    public float Probability { get; set; }

    /// <summary>The raw xCos score.</summary>
    public float Xcos { get; set; }

    /// <summary>
    /// The cosine that decides (a face model's own) or that xCos follows (a checkpoint's target backbone; without one,
    /// the cosine of the flattened grids, also in the checkpoint pipeline's GridCosine column).
    /// </summary>
    public float Cosine { get; set; }

    /// <summary>Patch cosine map, G x G row-major (49 values on the default 7x7 grid; no fixed size, so any grid binds).</summary>
    [VectorType] public float[] CosineMap { get; set; } = [];

    /// <summary>Attention weights, G x G row-major, summing to 1.</summary>
    [VectorType] public float[] Attention { get; set; } = [];

    /// <summary>Status of face 1: "ok" or the failure ("missing_file: /x.jpg", "no_face", "degenerate_landmarks: ...").</summary>
    public string FaceStatus1 { get; set; } = "";

    /// <summary>Status of face 2.</summary>
    public string FaceStatus2 { get; set; } = "";

    /// <summary>"ok", or the first failing face and its status ("face1 missing_file: /x.jpg").</summary>
    public string Status { get; set; } = "";
}
