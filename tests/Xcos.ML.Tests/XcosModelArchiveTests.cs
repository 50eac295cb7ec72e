using System.IO.Compression;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Tests;

/// <summary>The networks inside a saved .zip: external data refused, a swapped network caught by its SHA-256.</summary>
public sealed class XcosModelArchiveTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-archive").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private sealed class Row
    {
        [VectorType(4)] public float[] X { get; set; } = [];
    }

    // y = x + w: a network whose weight is its only difference from another of the same shape
    private static ModelProto AddModel(float w)
    {
        var b = new OnnxGraphBuilder("add");
        var x = b.AddInput("X", [4]);
        b.AddOutput(b.Add(x, b.Initializer("w", [w, w, w, w], [4])), "y", [4]);
        return ModelProto.Parser.ParseFrom(b.ToBytes());
    }

    private static ModelProto WithExternalWeight(ModelProto m, string location)
    {
        var t = m.Graph.Initializer[0];
        t.RawData = ByteString.Empty;
        t.FloatData.Clear();
        t.DataLocation = TensorProto.Types.DataLocation.External;
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        return m;
    }

    private (MLContext Ml, IDataView Data, string Zip) Saved(bool manifest)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { X = [1, 2, 3, 4] } });
        var model = ml.Transforms.ApplyOnnxModel(["y"], ["X"], new MemoryStream(AddModel(0.5f).ToByteArray())).Fit(data);
        var zip = Path.Combine(_dir, $"m{Guid.NewGuid():N}.zip");
        if (manifest) XcosModelArchive.Save(ml, model, data.Schema, zip);
        else ml.Model.Save(model, data.Schema, zip);
        (model as IDisposable)?.Dispose();
        return (ml, data, zip);
    }

    private static void ReplaceNetwork(string zip, ModelProto with)
    {
        using var z = ZipFile.Open(zip, ZipArchiveMode.Update);
        var e = z.Entries.Single(x => x.Name == "OnnxModel");
        var name = e.FullName;
        e.Delete();
        var bytes = with.ToByteArray();
        using var s = z.CreateEntry(name).Open();
        s.Write(BitConverter.GetBytes(bytes.Length));
        s.Write(bytes);
    }

    [Fact]
    public void A_sealed_zip_loads_and_scores()
    {
        var (ml, data, zip) = Saved(manifest: true);
        var n = Assert.Single(XcosModelArchive.Verify(zip));
        Assert.Equal(64, n.Sha256.Length);
        var model = XcosModelArchive.Load(ml, zip, out _);
        var y = model.Transform(data).GetColumn<float[]>("y").Single();
        Assert.Equal(new float[] { 1.5f, 2.5f, 3.5f, 4.5f }, y);
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_network_swapped_for_one_of_the_same_shape_is_refused_naming_its_stage()
    {
        var (_, _, zip) = Saved(manifest: true);
        ReplaceNetwork(zip, AddModel(0.25f));
        var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Verify(zip));
        Assert.Contains(zip, e.Message);
        Assert.Contains("stage TransformerChain", e.Message);
        Assert.Contains("SHA-256", e.Message);
    }

    [Fact]
    public void External_data_in_a_zip_is_refused_before_ONNX_Runtime_opens_it_with_or_without_a_manifest()
    {
        foreach (var manifest in new[] { true, false })
        {
            var (ml, _, zip) = Saved(manifest);
            ReplaceNetwork(zip, WithExternalWeight(AddModel(0.5f), "../../../../../../../etc/hostname"));
            var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Load(ml, zip, out _));
            Assert.Contains("external file", e.Message);
        }
    }

    [Fact]
    public void A_zip_saved_without_a_manifest_still_loads()
    {
        var (ml, data, zip) = Saved(manifest: false);
        Assert.Single(XcosModelArchive.Verify(zip));
        var model = XcosModelArchive.Load(ml, zip, out _);
        Assert.Equal(1.5f, model.Transform(data).GetColumn<float[]>("y").Single()[0]);
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void An_onnx_file_may_keep_external_data_only_inside_its_own_folder()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "model")).FullName;
        var path = Path.Combine(folder, "m.onnx");
        File.WriteAllBytes(path, WithExternalWeight(AddModel(1), "../../../../../../tmp/x").ToByteArray());
        Assert.Contains("outside the model's folder", Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(path)).Message);
        File.WriteAllBytes(path, WithExternalWeight(AddModel(1), "/etc/hostname").ToByteArray());
        Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(path));
        File.WriteAllBytes(path, WithExternalWeight(AddModel(1), "weights.bin").ToByteArray());
        Assert.Single(OnnxModelFile.Load(path).Graph.Initializer);
        Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(File.ReadAllBytes(path)));   // bytes have no folder
    }
}
