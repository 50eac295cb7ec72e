using System.Formats.Tar;
using System.IO.Compression;
using Xcos.ML.FaceModels;
using Xcos.ML.Onnx;
using Xunit;

namespace Xcos.ML.Tests;

public sealed class ModelStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-models-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static byte[] TinyOnnx()
    {
        var b = new OnnxGraphBuilder();
        var x = b.AddInput("x", [1, 2]);
        b.AddOutput(b.Relu(x), "y", [1, 2]);
        return b.ToBytes();
    }

    [Fact]
    public void Missing_npm_gives_the_install_message()
    {
        var emptyBin = Path.Combine(_dir, "bin");
        Directory.CreateDirectory(emptyBin);
        Assert.Null(ModelStore.FindNpm(emptyBin));
        var target = Path.Combine(_dir, "models");
        var ex = Assert.Throws<NpmMissingException>(() => ModelStore.Fetch(target, searchPath: emptyBin));
        Assert.Contains("npm was not found", ex.Message);
        Assert.Contains("apt-get install -y npm", ex.Message);
        Assert.Contains(target, ex.Message);
    }

    [Fact]
    public void FindNpm_finds_an_npm_on_the_given_path()
    {
        var bin = Path.Combine(_dir, "bin2");
        Directory.CreateDirectory(bin);
        var npm = Path.Combine(bin, OperatingSystem.IsWindows() ? "npm.cmd" : "npm");
        File.WriteAllText(npm, "");
        Assert.Equal(npm, ModelStore.FindNpm(bin));
    }

    [Fact]
    public void Check_reports_missing_and_corrupt_files()
    {
        File.WriteAllBytes(Path.Combine(_dir, "fr_detect.onnx"), TinyOnnx());
        File.WriteAllBytes(Path.Combine(_dir, "fr_landmark.onnx"), [1, 2, 3, 4, 5]);
        var s = ModelStore.Check(_dir).ToDictionary(x => x.File);
        Assert.True(s["fr_detect.onnx"].Valid);
        Assert.Equal(["x"], s["fr_detect.onnx"].Inputs);
        Assert.True(s["fr_landmark.onnx"].Present);
        Assert.False(s["fr_landmark.onnx"].Valid);
        Assert.Contains("fr_landmark.onnx", s["fr_landmark.onnx"].Error);
        Assert.False(s["fr_feature.onnx"].Present);
        Assert.Equal("missing", s["fr_feature.onnx"].Error);
        Assert.False(ModelStore.IsComplete(_dir));
    }

    private string Tarball(params string[] modelNames)
    {
        var tgz = Path.Combine(_dir, "pkg.tgz");
        using var fs = File.Create(tgz);
        using var gz = new GZipStream(fs, CompressionLevel.Fastest);
        using var tar = new TarWriter(gz, TarEntryFormat.Pax);
        void Add(string name, byte[] data) => tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        foreach (var m in modelNames) Add("package/model/" + m, TinyOnnx());
        Add("package/model/fr_age.onnx", TinyOnnx());
        Add("package/lib/fr_detect.js", "export {}"u8.ToArray());
        Add("package/package.json", "{}"u8.ToArray());
        return tgz;
    }

    [Fact]
    public void Extract_unpacks_models_and_lib_only()
    {
        var tgz = Tarball([.. ModelStore.ModelFiles]);
        var target = Path.Combine(_dir, "out");
        ModelStore.Extract(tgz, target);
        Assert.True(ModelStore.IsComplete(target));
        Assert.True(File.Exists(Path.Combine(target, "lib", "fr_detect.js")));
        Assert.False(File.Exists(Path.Combine(target, "fr_age.onnx")));
        Assert.False(File.Exists(Path.Combine(target, "package.json")));
    }

    [Fact]
    public void Extract_names_a_model_the_package_lacks_and_rejects_non_tarballs()
    {
        var tgz = Tarball("fr_detect.onnx", "fr_landmark.onnx");
        var ex = Assert.Throws<InvalidDataException>(() => ModelStore.Extract(tgz, Path.Combine(_dir, "o1")));
        Assert.Contains("package/model/fr_feature.onnx", ex.Message);
        var junk = Path.Combine(_dir, "junk.tgz");
        File.WriteAllText(junk, "not gzip at all");
        var ex2 = Assert.Throws<InvalidDataException>(() => ModelStore.Extract(junk, Path.Combine(_dir, "o2")));
        Assert.Contains(junk, ex2.Message);
    }

    [Fact]
    public void Directory_option_wins_over_the_environment()
    {
        Assert.Equal(Path.GetFullPath(_dir), ModelStore.ResolveDirectory(_dir));
        var env = Environment.GetEnvironmentVariable(ModelStore.EnvironmentVariable);
        var d = ModelStore.ResolveDirectory();
        if (string.IsNullOrEmpty(env)) Assert.EndsWith(Path.Combine("xcos", "models"), d);
        else Assert.Equal(Path.GetFullPath(env), d);
    }
}
