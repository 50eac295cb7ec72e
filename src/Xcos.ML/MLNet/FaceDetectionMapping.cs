using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.MLNet;

// The face detector inside an ML.NET pipeline, both faces of a pair at once: fr_detect.onnx and fr_landmark.onnx run in
// ApplyOnnxModel stages (their bytes live in the saved .zip), and these stateless mappings do what lies between them
// (resizing, box decoding, non-maximum suppression, the landmark crop, the 68-to-5 reduction). The column sizes are those
// of fr_detect.onnx (Ultra-Light RFB-320: 240x320 input, 4420 priors) and fr_landmark.onnx (64x64 grey, 136 outputs).

/// <summary>Fixed internal column names of the detection stages.</summary>
internal static class FaceDetectionColumns
{
    /// <summary>Image of face 1 / 2.</summary>
    public const string Image1 = "Xcos.Detect.Image1", Image2 = "Xcos.Detect.Image2";
    /// <summary>Detector input of face 1 / 2 (3x240x320).</summary>
    public const string Input1 = "Xcos.Detect.Input1", Input2 = "Xcos.Detect.Input2";
    /// <summary>Detector scores (4420x2) and boxes (4420x4) of face 1 / 2.</summary>
    public const string Scores1 = "Xcos.Detect.Scores1", Scores2 = "Xcos.Detect.Scores2", Boxes1 = "Xcos.Detect.Boxes1", Boxes2 = "Xcos.Detect.Boxes2";
    /// <summary>Landmark-model input (1x64x64) of face 1 / 2.</summary>
    public const string LandmarkInput1 = "Xcos.Detect.LandmarkInput1", LandmarkInput2 = "Xcos.Detect.LandmarkInput2";
    /// <summary>Landmark-model output (136) of face 1 / 2.</summary>
    public const string LandmarkOutput1 = "Xcos.Detect.LandmarkOutput1", LandmarkOutput2 = "Xcos.Detect.LandmarkOutput2";
    /// <summary>Integer crop (x, y, w, h) the landmark input was cut from, face 1 / 2.</summary>
    public const string Crop1 = "Xcos.Detect.Crop1", Crop2 = "Xcos.Detect.Crop2";
    /// <summary>Box of the face used (x1, y1, x2, y2), face 1 / 2.</summary>
    public const string Box1 = "Xcos.Detect.Box1", Box2 = "Xcos.Detect.Box2";
    /// <summary>Faces found, face 1 / 2.</summary>
    public const string Count1 = "Xcos.Detect.Count1", Count2 = "Xcos.Detect.Count2";
    /// <summary>Detection status of face 1 / 2.</summary>
    public const string Status1 = "Xcos.Detect.Status1", Status2 = "Xcos.Detect.Status2";
    /// <summary>Five landmarks (10 values; empty when no face) of face 1 / 2.</summary>
    public const string Landmarks1 = "Xcos.Detect.Landmarks1", Landmarks2 = "Xcos.Detect.Landmarks2";
}

/// <summary>Row read by the detector-input mapping.</summary>
internal sealed class DetectorInputRow
{
    /// <summary>Image of face 1 (null when it could not be read).</summary>
    [ColumnName(FaceDetectionColumns.Image1)] public MLImage? Image1 { get; set; }
    /// <summary>Image of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Image2)] public MLImage? Image2 { get; set; }
}

/// <summary>Row written by the detector-input mapping.</summary>
internal sealed class DetectorInputOutput
{
    /// <summary>fr_detect.onnx input of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Input1), VectorType(3, FaceDetector.InputHeight, FaceDetector.InputWidth)] public float[] Input1 { get; set; } = [];
    /// <summary>fr_detect.onnx input of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Input2), VectorType(3, FaceDetector.InputHeight, FaceDetector.InputWidth)] public float[] Input2 { get; set; } = [];
}

/// <summary>Row read by the face-picking mapping.</summary>
internal sealed class FacePickInput
{
    /// <summary>Image of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Image1)] public MLImage? Image1 { get; set; }
    /// <summary>Image of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Image2)] public MLImage? Image2 { get; set; }
    /// <summary>Detector scores of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Scores1), VectorType(FaceDetectionMapping.Priors, 2)] public float[] Scores1 { get; set; } = [];
    /// <summary>Detector boxes of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Boxes1), VectorType(FaceDetectionMapping.Priors, 4)] public float[] Boxes1 { get; set; } = [];
    /// <summary>Detector scores of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Scores2), VectorType(FaceDetectionMapping.Priors, 2)] public float[] Scores2 { get; set; } = [];
    /// <summary>Detector boxes of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Boxes2), VectorType(FaceDetectionMapping.Priors, 4)] public float[] Boxes2 { get; set; } = [];
}

/// <summary>Row written by the face-picking mapping.</summary>
internal sealed class FacePickOutput
{
    /// <summary>Landmark-model input of face 1 (zeros when no face).</summary>
    [ColumnName(FaceDetectionColumns.LandmarkInput1), VectorType(1, FaceDetector.LandmarkSize, FaceDetector.LandmarkSize)] public float[] LandmarkInput1 { get; set; } = [];
    /// <summary>Landmark-model input of face 2.</summary>
    [ColumnName(FaceDetectionColumns.LandmarkInput2), VectorType(1, FaceDetector.LandmarkSize, FaceDetector.LandmarkSize)] public float[] LandmarkInput2 { get; set; } = [];
    /// <summary>Crop of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Crop1), VectorType(4)] public float[] Crop1 { get; set; } = [];
    /// <summary>Crop of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Crop2), VectorType(4)] public float[] Crop2 { get; set; } = [];
    /// <summary>Box of face 1 (NaN when none).</summary>
    [ColumnName(FaceDetectionColumns.Box1), VectorType(4)] public float[] Box1 { get; set; } = [];
    /// <summary>Box of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Box2), VectorType(4)] public float[] Box2 { get; set; } = [];
    /// <summary>Faces found in photo 1.</summary>
    [ColumnName(FaceDetectionColumns.Count1)] public int Count1 { get; set; }
    /// <summary>Faces found in photo 2.</summary>
    [ColumnName(FaceDetectionColumns.Count2)] public int Count2 { get; set; }
    /// <summary>Detection status of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Status1)] public string Status1 { get; set; } = "";
    /// <summary>Detection status of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Status2)] public string Status2 { get; set; } = "";
}

/// <summary>Row read by the landmark mapping.</summary>
internal sealed class FaceLandmarksInput
{
    /// <summary>Landmark-model output of face 1.</summary>
    [ColumnName(FaceDetectionColumns.LandmarkOutput1), VectorType(136)] public float[] Output1 { get; set; } = [];
    /// <summary>Landmark-model output of face 2.</summary>
    [ColumnName(FaceDetectionColumns.LandmarkOutput2), VectorType(136)] public float[] Output2 { get; set; } = [];
    /// <summary>Crop of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Crop1), VectorType(4)] public float[] Crop1 { get; set; } = [];
    /// <summary>Crop of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Crop2), VectorType(4)] public float[] Crop2 { get; set; } = [];
    /// <summary>Detection status of face 1.</summary>
    [ColumnName(FaceDetectionColumns.Status1)] public string Status1 { get; set; } = "";
    /// <summary>Detection status of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Status2)] public string Status2 { get; set; } = "";
}

/// <summary>Row written by the landmark mapping.</summary>
internal sealed class FaceLandmarksOutput
{
    /// <summary>Five landmarks of face 1 (x1, y1, ..., x5, y5), empty when no face.</summary>
    [ColumnName(FaceDetectionColumns.Landmarks1), VectorType] public float[] Landmarks1 { get; set; } = [];
    /// <summary>Five landmarks of face 2.</summary>
    [ColumnName(FaceDetectionColumns.Landmarks2), VectorType] public float[] Landmarks2 { get; set; } = [];
}

/// <summary>The per-row functions of the detection stages (default <see cref="FaceDetectorOptions"/>).</summary>
internal static class FaceDetectionMapping
{
    /// <summary>Anchor boxes fr_detect.onnx scores at 320x240: the length of its score and box outputs.</summary>
    public const int Priors = 4420;

    private static readonly FaceDetectorOptions Defaults = new();
    private static readonly int InputLength = 3 * FaceDetector.InputHeight * FaceDetector.InputWidth;
    private static readonly int LandmarkLength = FaceDetector.LandmarkSize * FaceDetector.LandmarkSize;

    /// <summary>Resizes and normalises both images for the detector (zeros for a missing image).</summary>
    public static void Prepare(DetectorInputRow input, DetectorInputOutput output)
    {
        output.Input1 = input.Image1 is null ? new float[InputLength] : FaceDetector.DetectorInput(ImageIO.FromMLImage(input.Image1), Defaults.DetectorChannelOrder);
        output.Input2 = input.Image2 is null ? new float[InputLength] : FaceDetector.DetectorInput(ImageIO.FromMLImage(input.Image2), Defaults.DetectorChannelOrder);
    }

    /// <summary>Decodes the detector's boxes of both photos and cuts the landmark input of the primary face.</summary>
    public static void Pick(FacePickInput input, FacePickOutput output)
    {
        (output.LandmarkInput1, output.Crop1, output.Box1, output.Count1, output.Status1) = Pick(input.Image1, input.Scores1, input.Boxes1);
        (output.LandmarkInput2, output.Crop2, output.Box2, output.Count2, output.Status2) = Pick(input.Image2, input.Scores2, input.Boxes2);
    }

    private static (float[] Input, float[] Crop, float[] Box, int Count, string Status) Pick(MLImage? image, float[] scores, float[] boxes)
    {
        var none = (new float[LandmarkLength], new float[4], new[] { float.NaN, float.NaN, float.NaN, float.NaN }, 0, FaceStatus.NoFace.ToText());
        if (image is null) return none;
        var photo = ImageIO.FromMLImage(image);
        var found = FaceDetector.DecodeBoxes(scores, boxes, photo.Width, photo.Height, Defaults);
        var faces = found.Select(f => new DetectedFace(f.Box, f.Score, [], [])).ToList();
        if (FaceDetector.PickPrimary(faces, photo.Width, photo.Height) is not { } primary) return none;
        var (grey, x, y, w, h) = FaceDetector.LandmarkInput(photo, primary.Box);
        var b = primary.Box;
        return (grey, [x, y, w, h], [b.X1, b.Y1, b.X2, b.Y2], faces.Count, FaceStatus.Ok.ToText());
    }

    /// <summary>The five landmarks of both faces from the landmark model's outputs (empty where no face was found).</summary>
    public static void Landmarks(FaceLandmarksInput input, FaceLandmarksOutput output)
    {
        output.Landmarks1 = Five(input.Output1, input.Crop1, input.Status1);
        output.Landmarks2 = Five(input.Output2, input.Crop2, input.Status2);
    }

    private static float[] Five(float[] raw, float[] crop, string status)
    {
        if (status != FaceStatus.Ok.ToText()) return [];
        var l68 = FaceDetector.LandmarksFromOutput(raw, (int)crop[0], (int)crop[1], (int)crop[2], (int)crop[3]);
        var p = FaceDetector.FivePointsFromEyelidMeans(l68);
        var flat = new float[10];
        for (int i = 0; i < 5; i++) { flat[2 * i] = (float)p[i].X; flat[2 * i + 1] = (float)p[i].Y; }
        return flat;
    }
}

/// <summary>Rebuilds the detector-input stage of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class DetectorInputFactory : CustomMappingFactory<DetectorInputRow, DetectorInputOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.FrDetectInput.v1";

    /// <inheritdoc/>
    public override Action<DetectorInputRow, DetectorInputOutput> GetMapping()
    {
        MLImageTypeRegistration.Ensure();
        return FaceDetectionMapping.Prepare;
    }
}

/// <summary>Rebuilds the face-picking stage of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class FacePickFactory : CustomMappingFactory<FacePickInput, FacePickOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.FrDetectPick.v1";

    /// <inheritdoc/>
    public override Action<FacePickInput, FacePickOutput> GetMapping()
    {
        MLImageTypeRegistration.Ensure();
        return FaceDetectionMapping.Pick;
    }
}

/// <summary>Rebuilds the landmark stage of a loaded model.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class FaceLandmarksFactory : CustomMappingFactory<FaceLandmarksInput, FaceLandmarksOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.FrLandmarks.v1";

    /// <inheritdoc/>
    public override Action<FaceLandmarksInput, FaceLandmarksOutput> GetMapping() => FaceDetectionMapping.Landmarks;
}
