using Xcos.ML.Data;
using Xcos.ML.Gallery;
using Xcos.ML.Images;
using Xcos.ML.Torch.Checkpoints;
using Xcos.ML.Torch.Gallery;

namespace Xcos.ML.Torch.Tests;

/// <summary>A checkpoint as a gallery encoder: the pair head on cached face codes reproduces the original xCos fixture.</summary>
public class TorchFaceEncoderTests
{
    [Fact]
    public void Compare_on_face_codes_reproduces_the_fixture_xcos_and_the_embedding_cosine_the_target_cosine()
    {
        var dir = Fixtures.Path("xcos_tiny");
        var ckpt = Path.Combine(dir, "checkpoint.pth");
        TorchRuntime.Configure(2);
        using var encoder = new TorchFaceEncoder(XcosModelLoader.Load(ckpt), ckpt);
        var xcos = Npy.Read(Path.Combine(dir, "xcos.npy")).AsFloat32();
        var tcos = Npy.Read(Path.Combine(dir, "target_cos.npy")).AsFloat32();
        var cosMap = Npy.Read(Path.Combine(dir, "cos_map.npy")).AsFloat32();
        for (int pair = 0; pair < 4; pair++)
        {
            var a = encoder.Encode(ImageIO.Load(Path.Combine(dir, $"pair{pair}_image1.png")), aligned: true);
            var b = encoder.Encode(ImageIO.Load(Path.Combine(dir, $"pair{pair}_image2.png")), aligned: true);
            Assert.Equal(encoder.Model.CodeLength, a.Code!.Length);
            var ex = encoder.Compare(a.Code, b.Code!);
            Assert.Equal(xcos[pair], ex.Score, 1e-4);
            for (int c = 0; c < 49; c++) Assert.Equal(cosMap[pair * 49 + c], ex.CosMap[c], 1e-4);
            double dot = 0, na = 0, nb = 0;
            for (int i = 0; i < a.Embedding!.Length; i++) { dot += a.Embedding[i] * b.Embedding![i]; na += a.Embedding[i] * a.Embedding[i]; nb += b.Embedding[i] * b.Embedding[i]; }
            Assert.Equal(tcos[pair], dot / Math.Sqrt(na * nb), 1e-4);
        }
        Assert.StartsWith("sha256:", encoder.Model.Hash);
        Assert.Throws<InvalidOperationException>(() => encoder.Encode(new RgbImage(200, 200)));   // photos need a detector
    }

    [Fact]
    public void A_shortlist_is_scored_in_one_batched_call_as_pair_by_pair()
    {
        var dir = Fixtures.Path("xcos_tiny");
        var ckpt = Path.Combine(dir, "checkpoint.pth");
        TorchRuntime.Configure(2);
        using var encoder = new TorchFaceEncoder(XcosModelLoader.Load(ckpt), ckpt);
        var codes = Enumerable.Range(0, 4).SelectMany(p => new[] { 1, 2 }.Select(k =>
            encoder.Encode(ImageIO.Load(Path.Combine(dir, $"pair{p}_image{k}.png")), aligned: true).Code!)).ToArray();
        var probe = codes[0];
        var many = encoder.CompareMany(probe, codes);
        Assert.Equal(codes.Length, many.Count);
        for (int i = 0; i < codes.Length; i++)
        {
            var one = encoder.Compare(probe, codes[i]);
            Assert.Equal(one.Score, many[i].Score, 1e-5);
            for (int c = 0; c < 49; c++)
            {
                Assert.Equal(one.CosMap[c], many[i].CosMap[c], 1e-5);
                Assert.Equal(one.Attention[c], many[i].Attention[c], 1e-5);
            }
        }
        Assert.Empty(encoder.CompareMany(probe, []));
        Assert.Throws<ArgumentException>(() => encoder.CompareMany(probe, [new float[3]]));
    }
}

