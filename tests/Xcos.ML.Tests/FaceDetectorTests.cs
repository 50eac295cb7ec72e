using Xcos.ML.Alignment;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xunit;

namespace Xcos.ML.Tests;

public class FaceDetectorTests
{
    [RealModelsFact]
    public void Uniform_image_has_no_face_and_gives_a_status()
    {
        using var det = FaceDetector.FromDirectory(RealFaces.ModelsDir()!);
        var img = new RgbImage(320, 240);
        Array.Fill(img.Pixels, (byte)128);
        var r = det.DetectFaces(img);
        Assert.Equal(FaceDetectionStatus.NoFace, r.Status);
        Assert.Equal(0, r.FaceCount);
        Assert.Null(r.Primary);
        Assert.Null(det.Detect(img));
    }

    [RealPhotoFact]
    public void Finds_the_three_faces_of_face_api_sample1_with_plausible_landmarks()
    {
        using var det = FaceDetector.FromDirectory(RealFaces.ModelsDir()!);
        var img = ImageIO.Load(RealFaces.Photo("faceapi_sample1.jpg")!);
        var r = det.DetectFaces(img);
        Assert.Equal(FaceDetectionStatus.Ok, r.Status);
        Assert.Equal(3, r.FaceCount);
        foreach (var f in r.Faces)
        {
            Assert.True(f.Score >= 0.65f);
            Assert.Equal(136, f.Landmarks68.Length);
            var (le, re, nose, lm, rm) = (f.Landmarks5[0], f.Landmarks5[1], f.Landmarks5[2], f.Landmarks5[3], f.Landmarks5[4]);
            Assert.True(le.X < re.X && lm.X < rm.X, "left points must be left of right points");
            Assert.True(le.Y < nose.Y && nose.Y < lm.Y, "eyes above nose above mouth");
            foreach (var p in f.Landmarks5)
                Assert.True(p.X >= f.Box.X1 && p.X <= f.Box.X2 && p.Y >= f.Box.Y1 && p.Y <= f.Box.Y2, $"landmark {p} outside box {f.Box}");
            Assert.Equal(f.Box.Width, f.Box.Height, 1.0);  // squared boxes
        }
        Assert.Equal(r.Faces.Max(f => Math.Round(f.Box.Area)), Math.Round(r.Primary!.Box.Area));
        var aligned = FaceAligner.Align(img, det.Detect(img)!);
        Assert.Equal(112, aligned.Face.Width);
    }

    [Fact]
    public void FivePointsFromEyelidMeans_follows_fr_feature_js()
    {
        var xy = new float[136];
        for (int i = 0; i < 68; i++) { xy[2 * i] = i; xy[2 * i + 1] = 1000 + i; }
        var five = FaceDetector.FivePointsFromEyelidMeans(xy);
        Assert.Equal(((37 + 38 + 40 + 41) / 4.0, 1000 + (37 + 38 + 40 + 41) / 4.0), five[0]);
        Assert.Equal(((43 + 44 + 46 + 47) / 4.0, 1000 + (43 + 44 + 46 + 47) / 4.0), five[1]);
        Assert.Equal((30.0, 1030.0), five[2]);
        Assert.Equal(((48 + 60) / 2.0, 1000 + (48 + 60) / 2.0), five[3]);
        Assert.Equal(((54 + 64) / 2.0, 1000 + (54 + 64) / 2.0), five[4]);
        Assert.Throws<ArgumentException>(() => FaceDetector.FivePointsFromEyelidMeans(new float[10]));
    }

    [Fact]
    public void Primary_is_the_largest_face_and_ties_go_to_the_most_central()
    {
        DetectedFace F(float x, float y, float s) => new(new FaceBox(x, y, x + s, y + s), 0.9f, [], []);
        var small = F(90, 90, 20);
        var big = F(0, 0, 40);
        Assert.Same(big, FaceDetector.PickPrimary([small, big], 200, 200));
        var corner = F(0, 0, 40);
        var centre = F(80, 80, 40);
        Assert.Same(centre, FaceDetector.PickPrimary([corner, centre], 200, 200));
        Assert.Null(FaceDetector.PickPrimary([], 200, 200));
    }

    [Fact]
    public void Box_iou()
    {
        var a = new FaceBox(0, 0, 10, 10);
        Assert.Equal(1f, a.IoU(a));
        Assert.Equal(0f, a.IoU(new FaceBox(20, 20, 30, 30)));
        Assert.Equal(50f / 150f, a.IoU(new FaceBox(5, 0, 15, 10)), 6);
    }

    [Fact]
    public void Missing_model_file_is_named()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => new FaceDetector("/nonexistent/fr_detect.onnx", "/nonexistent/fr_landmark.onnx"));
        Assert.Contains("fr_detect.onnx", ex.Message);
    }
}
