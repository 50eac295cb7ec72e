using System.IO.Compression;
using TorchSharp;
using Xcos.ML.Torch.Checkpoints;
using static TorchSharp.torch;

namespace Xcos.Cli.Tests;

/// <summary>
/// The checkpoint row of the bad-input matrix: junk, cut, NaN/Inf weights, a pickled list, a foreign Python class and a
/// directory, each refused by the loader (CheckpointException naming the file, and the tensor where one is at fault) and by
/// `xcos verify` (exit 1, one line naming the file).
/// </summary>
public sealed class CheckpointMatrixTests : IDisposable
{
    private static readonly string Good = Fixtures.Path("xcos_tiny", "checkpoint.pth");
    private static readonly string Face1 = Fixtures.Path("xcos_tiny", "pair0_image1.png"), Face2 = Fixtures.Path("xcos_tiny", "pair0_image2.png");
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-ckpt-matrix").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // A torch.save zip archive around a hand-written pickle (no tensors needed for these cases).
    private string TorchZip(string name, byte[] pickle)
    {
        var path = Path.Combine(_dir, name);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (entry, bytes) in new[] { ("archive/data.pkl", pickle), ("archive/version", "3\n"u8.ToArray()) })
            using (var s = zip.CreateEntry(entry, CompressionLevel.NoCompression).Open()) s.Write(bytes);
        return path;
    }

    private string WithWeight(string name, float value)
    {
        var sd = XcosCheckpoint.ReadStateDict(Good);
        try
        {
            var key = sd.Keys.Where(k => k.StartsWith("attention.", StringComparison.Ordinal) && sd[k].is_floating_point() && sd[k].numel() > 1).Order(StringComparer.Ordinal).First();
            sd[key].view(-1)[1] = torch.tensor(value);
            var path = Path.Combine(_dir, name);
            XcosCheckpoint.SaveStateDict(sd, path);
            return path + "|" + key;
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    private static (string Message, string Stderr) Refused(string path)
    {
        var e = Assert.Throws<CheckpointException>(() => XcosModelLoader.Load(path));
        Assert.Contains(path, e.Message);
        var (code, stdout, stderr) = CliProcess.Run("verify", Face1, Face2, "--aligned", "--checkpoint", path);
        Assert.True(code == 1, $"exit {code}: {stdout} {stderr}");
        Assert.Contains(path, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        return (e.Message, stderr);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonFiniteWeightsAreRefusedNamingTheTensor(float value)
    {
        var parts = WithWeight($"weights{value}.pth", value).Split('|');
        var (message, stderr) = Refused(parts[0]);
        Assert.Contains(parts[1], message);
        Assert.Contains("non-finite", message);
        Assert.Contains(parts[1], stderr);
    }

    [Fact]
    public void PickledListIsExplainedNotCast()
    {
        // [1, 2]: protocol 2 EMPTY_LIST MARK BININT1 1 BININT1 2 APPENDS STOP
        var (message, _) = Refused(TorchZip("list.pth", [0x80, 0x02, (byte)']', (byte)'(', (byte)'K', 1, (byte)'K', 2, (byte)'e', (byte)'.']));
        Assert.Contains("Python list", message);
        Assert.DoesNotContain("InvalidCast", message);
        Assert.DoesNotContain("ArrayList", message);
    }

    [Fact]
    public void ForeignPythonClassIsNamedWithoutInternals()
    {
        // {'x': numpy.dtype('f8')}: a class rebuilt from arguments, as numpy scalars in real training checkpoints are
        var pickle = new byte[] { 0x80, 0x02, (byte)'}', (byte)'(', (byte)'X', 1, 0, 0, 0, (byte)'x', (byte)'c' }
            .Concat("numpy\ndtype\n"u8.ToArray()).Concat(new byte[] { (byte)'X', 2, 0, 0, 0, (byte)'f', (byte)'8', 0x85, (byte)'R', (byte)'u', (byte)'.' }).ToArray();
        var (message, _) = Refused(TorchZip("foreign.pth", pickle));
        Assert.Contains("numpy.dtype", message);
        Assert.DoesNotContain("IObjectConstructor", message);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.95)]
    public void CutArchiveIsRefused(double keep)
    {
        var bytes = File.ReadAllBytes(Good);
        Refused(Write($"cut{keep}.pth", bytes[..(int)(bytes.Length * keep)]));
    }

    [Fact]
    public void JunkAndEmptyFilesAreRefused()
    {
        var junk = new byte[300];
        new Random(5).NextBytes(junk);
        Refused(Write("junk.pth", junk));
        Refused(Write("empty.pth", []));
    }

    [Fact]
    public void DirectoryIsRefused()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_dir, "model.pth")).FullName;
        Assert.Contains(sub, Assert.Throws<CheckpointException>(() => XcosModelLoader.Load(sub)).Message);
        var (code, _, stderr) = CliProcess.Run("verify", Face1, Face2, "--aligned", "--checkpoint", sub);
        Assert.Equal(1, code);
        Assert.Contains(sub, stderr);
    }
}
