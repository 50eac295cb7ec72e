using System.IO.Compression;
using Microsoft.ML;

namespace Xcos.Cli.Tests;

/// <summary>
/// The ML.NET .zip row of the bad-input matrix: a cut model, one whose component comes from another ML.NET version, and
/// a zip that is not a model; `xcos inspect` answers each with exit 1 and one line naming the file.
/// </summary>
public sealed class MlNetZipMatrixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-mlnet-matrix").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Row { public float A { get; set; } public float B { get; set; } }

    // A small real ML.NET model: one transformer chain, saved with its input schema.
    private string Model()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { A = 1, B = 2 }, new Row { A = 3, B = 4 } });
        var model = ml.Transforms.Concatenate("F", "A", "B").Append(ml.Transforms.NormalizeMinMax("F")).Fit(data);
        var path = Path.Combine(_dir, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        return path;
    }

    private static void AssertRefused(string path)
    {
        var (code, stdout, stderr) = CliProcess.Run("inspect", path);
        Assert.True(code == 1, $"exit {code}: {stdout} {stderr}");
        Assert.Contains(path, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void TheUntouchedModelInspects()
    {
        var (code, stdout, stderr) = CliProcess.Run("inspect", Model());
        Assert.True(code == 0, stderr);
        Assert.Contains("F:", stdout);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.9)]
    public void CutModelIsRefused(double keep)
    {
        var bytes = File.ReadAllBytes(Model());
        var path = Path.Combine(_dir, $"cut{keep}.zip");
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * keep)]);
        AssertRefused(path);
    }

    [Fact]
    public void ModelFromAnotherVersionIsRefused()
    {
        // every Model.key starts with ML.NET's model header; its 8-byte loader signature names the component and its
        // version. A signature this ML.NET does not know is what a model from a newer (or older, retired) version carries.
        var path = Model();
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var keys = zip.Entries.Where(e => e.FullName.EndsWith("Model.key", StringComparison.Ordinal)).ToArray();
            Assert.True(keys.Length > 0, "entries: " + string.Join(", ", zip.Entries.Select(e => e.FullName)));
            var entry = keys.OrderByDescending(e => e.FullName.Length).First(); // a leaf transformer
            byte[] bytes;
            using (var s = entry.Open()) { using var ms = new MemoryStream(); s.CopyTo(ms); bytes = ms.ToArray(); }
            var name = entry.FullName;
            entry.Delete();
            Assert.True(bytes.Skip(0x50).Take(8).All(b => b is >= 0x20 and < 0x7F), $"{name}: no signature text at 0x50");
            // the header's 8-character upper-case signature at offset 0x50 becomes one no loader registers
            for (int i = 0; i < 8; i++) bytes[0x50 + i] = (byte)'Q';
            using var s2 = zip.CreateEntry(name).Open();
            s2.Write(bytes);
        }
        AssertRefused(path);
    }

    [Fact]
    public void ZipThatIsNotAModelIsRefused()
    {
        var path = Path.Combine(_dir, "photos.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("readme.txt").Open()) s.Write("hello"u8);
        AssertRefused(path);
    }
}
