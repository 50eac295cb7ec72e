using Microsoft.ML.OnnxRuntime;
using Xcos.ML.Alignment;
using Xcos.ML.Images;

namespace Xcos.ML.FaceModels;

/// <summary>Settings of <see cref="FaceDetector"/>; defaults are those of the package's <c>lib/fr_detect.js</c>.</summary>
public sealed class FaceDetectorOptions
{
    /// <summary>Minimum face-class probability of a box (default 0.65, as fr_detect.js).</summary>
    public float ConfidenceThreshold { get; set; } = 0.65f;

    /// <summary>Boxes kept, best first, before non-maximum suppression (default 750, as fr_detect.js).</summary>
    public int TopK { get; set; } = 750;

    /// <summary>
    /// Overlap above which a lower-scored box is suppressed (default 0.4, fr_detect.js's value). Measured as
    /// intersection over union in score order (the Ultra-Light detector's own hard NMS); fr_detect.js instead walks
    /// the boxes by bottom edge and divides by the candidate's area, which can keep a weak box over a strong one.
    /// </summary>
    public float NmsThreshold { get; set; } = 0.4f;

    /// <summary>
    /// Colour order fed to fr_detect.onnx (default RGB, what the Ultra-Light-Fast detector was trained on;
    /// fr_detect.js converts its RGBA canvas with COLOR_BGR2RGB and so feeds BGR by accident).
    /// </summary>
    public ChannelOrder DetectorChannelOrder { get; set; } = ChannelOrder.Rgb;

    /// <summary>ONNX Runtime intra-op threads; 0 (default) lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; set; }
}

/// <summary>
/// Face detector of npm <c>faceplugin-face-recognition-js</c>: <c>fr_detect.onnx</c> (Ultra-Light-Fast RFB-320:
/// 1x3x240x320 input <c>(x-127)/128</c>, outputs <c>scores</c> 1x4420x2 and <c>boxes</c> 1x4420x4, boxes already decoded to
/// corners in 0..1) finds boxes; <c>fr_landmark.onnx</c> (64x64 grey crop of the box, <c>x/256</c>, 136 outputs in box
/// units) gives 68 points, reduced to five as <c>lib/fr_feature.js</c> does (eye = mean of its four lid points,
/// nose tip 30, mouth corners = mean of outer and inner corner). The detector has no landmark head of its own.
/// </summary>
/// <remarks>
/// Thread-safe: ONNX Runtime sessions may be run concurrently.
/// <para>
/// Whether the models must be present when a saved ML.NET model is loaded depends on the pipeline, not on this class.
/// <c>mlContext.Transforms.VerifyFacePairs</c> with a face model reads fr_detect.onnx and fr_landmark.onnx from the models
/// folder when the pipeline is built and keeps their bytes in <c>ApplyOnnxModel</c> stages: the saved .zip loads and
/// scores with no models folder. Only <c>mlContext.Transforms.AlignFaces(detector)</c>, which calls a detector instance
/// while scoring, saves the contract name <see cref="FaceDetectorLandmarkFactory.ContractName"/> instead of the
/// networks, and its .zip needs both files in the folder of <see cref="ModelStore.ResolveDirectory"/> when it is loaded.
/// </para>
/// </remarks>
public sealed class FaceDetector : ILandmarkSource, IDisposable
{
    /// <summary>Width in pixels that fr_detect.onnx takes; images are resized to it.</summary>
    public const int InputWidth = 320;
    /// <summary>Height in pixels that fr_detect.onnx takes; images are resized to it.</summary>
    public const int InputHeight = 240;
    /// <summary>Landmark model input side.</summary>
    public const int LandmarkSize = 64;

    private readonly InferenceSession _detect;
    private readonly InferenceSession _landmark;
    private readonly FaceDetectorOptions _options;

    /// <summary>Opens the box detector (fr_detect.onnx) and the 68-point landmark model (fr_landmark.onnx) in ONNX Runtime.</summary>
    /// <exception cref="FileNotFoundException">A model file is missing.</exception>
    /// <exception cref="InvalidDataException">A model does not have the expected inputs/outputs.</exception>
    public FaceDetector(string detectModelPath, string landmarkModelPath, FaceDetectorOptions? options = null)
    {
        _options = options ?? new FaceDetectorOptions();
        if (_options.ConfidenceThreshold is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(options), $"ConfidenceThreshold must be in 0..1, got {_options.ConfidenceThreshold}");
        if (_options.TopK <= 0) throw new ArgumentOutOfRangeException(nameof(options), $"TopK must be positive, got {_options.TopK}");
        _detect = OnnxSessions.Open(detectModelPath, _options.IntraOpThreads);
        try
        {
            OnnxSessions.Expect(_detect, detectModelPath, "input", [1, 3, InputHeight, InputWidth], "scores", "boxes");
            _landmark = OnnxSessions.Open(landmarkModelPath, _options.IntraOpThreads);
            OnnxSessions.Expect(_landmark, landmarkModelPath, "input", [1, 1, LandmarkSize, LandmarkSize], "output");
        }
        catch
        {
            _detect.Dispose();
            throw;
        }
    }

    /// <summary>Loads <c>fr_detect.onnx</c> and <c>fr_landmark.onnx</c> from a models folder (see <see cref="ModelStore"/>).</summary>
    public static FaceDetector FromDirectory(string modelsDir, FaceDetectorOptions? options = null) =>
        new(Path.Combine(modelsDir, "fr_detect.onnx"), Path.Combine(modelsDir, "fr_landmark.onnx"), options);

    /// <summary>
    /// <see cref="FaceDetectorLandmarkFactory.ContractName"/> when the options are the defaults, so a pipeline that calls
    /// this detector through <c>AlignFaces(detector)</c> saves in an ML.NET .zip, which opens the detector again from the
    /// models folder of <see cref="ModelStore.ResolveDirectory"/> when it is loaded; null otherwise. (<c>VerifyFacePairs</c>
    /// with a face model does not use this: it stores the detector's networks in its .zip.)
    /// </summary>
    public string? ContractName => FaceDetectorLandmarkFactory.ContractNameFor(_options);

    /// <summary>Landmarks of the primary face as 10 values (five x,y points), or null when no face is found.</summary>
    public float[]? Detect(RgbImage image)
    {
        var p = DetectFaces(image).Primary;
        if (p is null) return null;
        var flat = new float[10];
        for (int i = 0; i < 5; i++) { flat[2 * i] = (float)p.Landmarks5[i].X; flat[2 * i + 1] = (float)p.Landmarks5[i].Y; }
        return flat;
    }

    /// <summary>
    /// Detects the faces of <paramref name="photo"/> and aligns the primary one (largest; ties: most central) onto the
    /// 112x112 ArcFace template; <c>Face</c> is null when no face was found.
    /// </summary>
    public (FaceDetectionResult Detection, RgbImage? Face) DetectAndAlign(RgbImage photo)
    {
        var det = DetectFaces(photo);
        return (det, det.Primary is { } face ? FaceAligner.Align(photo, face.Landmarks5).Face : null);
    }

    /// <summary>Finds every face in <paramref name="image"/>, with landmarks, and picks the primary one.</summary>
    public FaceDetectionResult DetectFaces(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var boxes = DetectBoxes(image);
        var faces = boxes.Select(b => new DetectedFace(b.Box, b.Score, default!, default!)).ToList();
        for (int i = 0; i < faces.Count; i++)
        {
            var l68 = Landmarks68(image, faces[i].Box);
            faces[i] = faces[i] with { Landmarks68 = l68, Landmarks5 = FivePointsFromEyelidMeans(l68) };
        }
        var primary = PickPrimary(faces, image.Width, image.Height);
        return new FaceDetectionResult(faces.Count == 0 ? FaceDetectionStatus.NoFace : FaceDetectionStatus.Ok, faces, primary, image.Width, image.Height);
    }

    /// <summary>Boxes (square, source pixels) and scores after thresholding, top-k and NMS, by descending score.</summary>
    public IReadOnlyList<(FaceBox Box, float Score)> DetectBoxes(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var input = DetectorInput(image, _options.DetectorChannelOrder);
        float[] scores, boxes;
        using (var x = OrtValue.CreateTensorValueFromMemory(input, [1, 3, InputHeight, InputWidth]))
        using (var outs = OnnxSessions.Run(_detect, "input", x, "scores", "boxes"))
        {
            scores = outs[0].GetTensorDataAsSpan<float>().ToArray();
            boxes = outs[1].GetTensorDataAsSpan<float>().ToArray();
        }
        return DecodeBoxes(scores, boxes, image.Width, image.Height, _options);
    }

    /// <summary>fr_detect.onnx's input for <paramref name="image"/>: resized to 320x240, <c>(x - 127) / 128</c>, CHW.</summary>
    public static float[] DetectorInput(RgbImage image, ChannelOrder order)
    {
        ArgumentNullException.ThrowIfNull(image);
        var small = ImageOps.Resize(image, InputWidth, InputHeight);
        return FaceTensor.ToChw(small, new FaceTensorOptions { Mean = 127f, Std = 128f, ChannelOrder = order });
    }

    /// <summary>
    /// fr_detect.onnx's outputs (face-class probabilities and normalised corners per prior) to square boxes in the pixels
    /// of a <paramref name="width"/> x <paramref name="height"/> image: thresholded, top-k, non-maximum suppressed, by
    /// descending score.
    /// </summary>
    public static IReadOnlyList<(FaceBox Box, float Score)> DecodeBoxes(ReadOnlySpan<float> scores, ReadOnlySpan<float> boxes, int width, int height, FaceDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int n = scores.Length / 2;
        if (boxes.Length != 4 * n) throw new InvalidDataException($"fr_detect: {n} scores but {boxes.Length / 4} boxes");
        var cand = new List<(FaceBox Box, float Score)>();
        for (int i = 0; i < n; i++)
        {
            float s = scores[2 * i + 1];
            if (s < options.ConfidenceThreshold) continue;
            // Normalised corners straight to source pixels (fr_detect.js: x320 then x cols/320).
            cand.Add((new FaceBox(boxes[4 * i] * width, boxes[4 * i + 1] * height,
                boxes[4 * i + 2] * width, boxes[4 * i + 3] * height), s));
        }
        cand = cand.OrderByDescending(c => c.Score).Take(options.TopK).Where(c => c.Box.Width > 0 && c.Box.Height > 0).ToList();
        var kept = new List<(FaceBox Box, float Score)>();
        foreach (var c in cand)
            if (kept.All(k => k.Box.IoU(c.Box) < options.NmsThreshold)) kept.Add(c);
        return kept.Select(k => (Squared(k.Box, width, height), k.Score)).ToList();
    }

    // fr_detect.js scaleResult: a square of the box's height around its centre, clipped to the image.
    private static FaceBox Squared(FaceBox b, int width, int height)
    {
        float side = b.Height, cx = (b.X1 + b.X2) / 2, cy = (b.Y1 + b.Y2) / 2;
        return new FaceBox(Math.Max(0, cx - side / 2), Math.Max(0, cy - side / 2),
            Math.Min(width - 1, cx + side / 2), Math.Min(height - 1, cy + side / 2));
    }

    /// <summary>68 points (flat x,y, source pixels) from fr_landmark.onnx on the 64x64 grey crop of <paramref name="box"/>.</summary>
    public float[] Landmarks68(RgbImage image, FaceBox box)
    {
        var (grey, x, y, w, h) = LandmarkInput(image, box);
        float[] raw;
        using (var t = OrtValue.CreateTensorValueFromMemory(grey, [1, 1, LandmarkSize, LandmarkSize]))
        using (var outs = OnnxSessions.Run(_landmark, "input", t, "output"))
            raw = outs[0].GetTensorDataAsSpan<float>().ToArray();
        return LandmarksFromOutput(raw, x, y, w, h);
    }

    /// <summary>
    /// fr_landmark.onnx's input for <paramref name="box"/> (fr_landmark.js: integer box, crop, resize to 64x64, grey,
    /// <c>/256</c>) and the integer crop it was cut from.
    /// </summary>
    public static (float[] Input, int X, int Y, int Width, int Height) LandmarkInput(RgbImage image, FaceBox box)
    {
        ArgumentNullException.ThrowIfNull(image);
        int x = Math.Clamp((int)box.X1, 0, image.Width - 1), y = Math.Clamp((int)box.Y1, 0, image.Height - 1);
        int w = Math.Clamp((int)box.X2 - (int)box.X1, 1, image.Width - x), h = Math.Clamp((int)box.Y2 - (int)box.Y1, 1, image.Height - y);
        var crop = ImageOps.Resize(ImageOps.Crop(image, x, y, w, h), LandmarkSize, LandmarkSize);
        var grey = ImageOps.Grey(crop);
        for (int i = 0; i < grey.Length; i++) grey[i] /= 256f;
        return (grey, x, y, w, h);
    }

    /// <summary>fr_landmark.onnx's 136 outputs (fractions of the crop) as 68 points in source pixels.</summary>
    public static float[] LandmarksFromOutput(ReadOnlySpan<float> raw, int x, int y, int w, int h)
    {
        if (raw.Length != 136) throw new InvalidDataException($"fr_landmark: expected 136 outputs (68 points), got {raw.Length}");
        var pts = new float[136];
        for (int i = 0; i < 68; i++)
        {
            pts[2 * i] = raw[2 * i] * w + x;
            pts[2 * i + 1] = raw[2 * i + 1] * h + y;
        }
        return pts;
    }

    /// <summary>
    /// Five points from 68 as <c>lib/fr_feature.js</c> does before aligning for fr_feature.onnx: each eye is the mean of its
    /// four lid points (37, 38, 40, 41 and 43, 44, 46, 47), nose tip 30, each mouth corner the mean of the outer and
    /// inner lip corner (48, 60 and 54, 64); 0-based iBUG indices.
    /// </summary>
    public static (double X, double Y)[] FivePointsFromEyelidMeans(ReadOnlySpan<float> xy68)
    {
        if (xy68.Length != 136) throw new ArgumentException($"68 points (136 values) expected, got {xy68.Length} values", nameof(xy68));
        (double, double) Mean(ReadOnlySpan<float> p, params int[] idx)
        {
            double sx = 0, sy = 0;
            foreach (int i in idx) { sx += p[2 * i]; sy += p[2 * i + 1]; }
            return (sx / idx.Length, sy / idx.Length);
        }
        return [Mean(xy68, 37, 38, 40, 41), Mean(xy68, 43, 44, 46, 47), Mean(xy68, 30), Mean(xy68, 48, 60), Mean(xy68, 54, 64)];
    }

    /// <summary>The largest face; equal areas (to the pixel) go to the face whose centre is nearest the image centre.</summary>
    public static DetectedFace? PickPrimary(IReadOnlyList<DetectedFace> faces, int width, int height)
    {
        double Dist(FaceBox b) => Math.Pow((b.X1 + b.X2) / 2 - width / 2.0, 2) + Math.Pow((b.Y1 + b.Y2) / 2 - height / 2.0, 2);
        return faces.OrderByDescending(f => Math.Round(f.Box.Area)).ThenBy(f => Dist(f.Box)).FirstOrDefault();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _detect.Dispose();
        _landmark.Dispose();
    }
}
