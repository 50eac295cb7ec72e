using Xcos.ML.FaceModels;
using Xcos.ML.Onnx;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>The ONNX row of the bad-input matrix: junk, truncated models and a model with the wrong input shape, refused naming the file.</summary>
public sealed class OnnxModelMatrixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-onnx-matrix").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void JunkAndEmptyFilesAreNotOnnx()
    {
        var junk = new byte[512];
        new Random(3).NextBytes(junk);
        foreach (var path in new[] { Write("junk.onnx", junk), Write("empty.onnx", []) })
            Assert.Contains(path, Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(path)).Message);
    }

    [RealModelsFact]
    public void TruncatedModelIsRefusedByTheParserAndTheModelCheck()
    {
        var whole = File.ReadAllBytes(Path.Combine(RealFaces.ModelsDir()!, "fr_landmark.onnx"));
        var path = Write("fr_landmark.onnx", whole[..(whole.Length / 2)]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(path)).Message);
        var status = ModelStore.Check(_dir).Single(s => s.File == "fr_landmark.onnx");
        Assert.False(status.Valid);
        Assert.Contains(path, status.Error);
    }

    [RealModelsFact]
    public void TruncatedDetectorModelIsRefusedNamingIt()
    {
        var models = RealFaces.ModelsDir()!;
        foreach (var f in ModelStore.ModelFiles) File.Copy(Path.Combine(models, f), Path.Combine(_dir, f));
        var detect = Path.Combine(_dir, "fr_detect.onnx");
        var whole = File.ReadAllBytes(detect);
        File.WriteAllBytes(detect, whole[..(whole.Length * 3 / 4)]);
        Assert.Contains(detect, Assert.ThrowsAny<Exception>(() => FaceDetector.FromDirectory(_dir)).Message);
    }

    [RealModelsFact]
    public void ModelWithTheWrongInputShapeIsRefusedNamingFileAndShape()
    {
        var models = RealFaces.ModelsDir()!;
        foreach (var f in ModelStore.ModelFiles) File.Copy(Path.Combine(models, f), Path.Combine(_dir, f));
        // the landmark network takes [1,1,64,64] grey crops where the detector expects [1,3,H,W] colour images
        var detect = Path.Combine(_dir, "fr_detect.onnx");
        File.Copy(Path.Combine(models, "fr_landmark.onnx"), detect, overwrite: true);
        var e = Assert.Throws<InvalidDataException>(() => FaceDetector.FromDirectory(_dir));
        Assert.Contains(detect, e.Message);
        Assert.Contains("expected", e.Message);
    }
}
