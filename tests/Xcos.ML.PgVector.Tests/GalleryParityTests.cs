using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Gallery;
using Xcos.ML.Images;
using Xcos.ML.MLNet;
using Xcos.ML.Verification;
using Xunit.Abstractions;

namespace Xcos.ML.PgVector.Tests;

/// <summary>
/// The file gallery and the database gallery on real people (../shared/dev-faces, fr_feature): enrol the same photos in
/// both, identify the rest, and get the same identities, the same top-5, the same rank-1 and the same explanation cells
/// after xCos re-ranking.
/// </summary>
[Collection(PgCollection.Name)]
public sealed class GalleryParityTests(PgliteServer server, ITestOutputHelper output)
{
    [PgliteDevFacesFact]
    public void File_and_database_galleries_answer_dev_faces_alike()
    {
        PgVectorGalleryProvider.Register();
        var root = Path.Combine(DevFaces.Root, "photos");
        using var encoder = new OnnxFaceEncoder(RealFaces.ModelsDir(), intraOpThreads: 2);
        var file = Path.Combine(Directory.CreateTempSubdirectory("xcos-parity").FullName, "dev.gallery");
        var db = server.NewGallery("parity");
        using var fileGallery = FaceGalleries.Open(file, encoder.Model, GalleryOpenMode.OpenOrCreate);
        using var dbGallery = FaceGalleries.Open(db, encoder.Model, GalleryOpenMode.OpenOrCreate);
        var probes = new List<(string Who, FaceEncoding Probe)>();
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            var who = Path.GetFileName(dir);
            var photos = Directory.GetFiles(dir).Order(StringComparer.Ordinal).ToList();
            foreach (var (photo, i) in photos.Select((p, i) => (p, i)))
            {
                var e = encoder.EncodeFile(photo);
                if (e.Status != FaceStatus.Ok) continue;
                if (i < 3)
                {
                    fileGallery.Enroll(who, e.Embedding!, e.Code!, photo);
                    dbGallery.Enroll(who, e.Embedding!, e.Code!, photo);
                }
                else probes.Add((who, e));
            }
        }
        Assert.Equal(fileGallery.Identities, dbGallery.Identities);
        Assert.Equal(fileGallery.FaceCount, dbGallery.FaceCount);
        var options = new FaceIdentifierOptions { Top = 5, Shortlist = 10, Rerank = true };
        var byFile = new FaceIdentifier(encoder, fileGallery);
        var byDb = new FaceIdentifier(encoder, dbGallery);
        int rank1File = 0, rank1Db = 0;
        foreach (var (who, probe) in probes)
        {
            var a = fileGallery.Search(probe.Embedding!, 5);
            var b = dbGallery.Search(probe.Embedding!, 5);
            Assert.Equal(a.Select(c => c.Identity), b.Select(c => c.Identity));
            Assert.Equal(a.Select(c => c.BestFace.SourceFile), b.Select(c => c.BestFace.SourceFile));
            // both in float32: pgvector sums in single precision, the file gallery in SIMD single precision
            for (int i = 0; i < a.Count; i++) Assert.InRange(Math.Abs(a[i].Cosine - b[i].Cosine), 0, 1e-4);
            var ra = byFile.Identify(probe, options);
            var rb = byDb.Identify(probe, options);
            Assert.Equal(ra.Unknown, rb.Unknown);
            Assert.Equal(ra.Matches.Select(m => m.Identity), rb.Matches.Select(m => m.Identity));
            for (int i = 0; i < ra.Matches.Count; i++)
            {
                Assert.Equal(ra.Matches[i].Explanation!.CosMap, rb.Matches[i].Explanation!.CosMap);
                Assert.Equal(ra.Matches[i].Explanation!.Attention, rb.Matches[i].Explanation!.Attention);
                Assert.Equal(ra.Matches[i].Score, rb.Matches[i].Score);
            }
            if (a[0].Identity == who) rank1File++;
            if (b[0].Identity == who) rank1Db++;
        }
        output.WriteLine($"dev-faces, 3 photos per person enrolled ({fileGallery.FaceCount} faces), {probes.Count} probes: rank-1 file {rank1File}, database {rank1Db}");
        Assert.Equal(rank1File, rank1Db);
        Assert.True(rank1File >= probes.Count * 0.8, $"rank-1 {rank1File} of {probes.Count}");
    }

    private sealed class Row { public string Path { get; set; } = ""; }

    [PgliteDevFacesFact]
    public void The_MLNet_identification_stage_takes_a_database_gallery_and_survives_save_and_load()
    {
        // the stage opens its face model from ModelStore's folder, as a loaded model would
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("XCOS_MODELS"))) Environment.SetEnvironmentVariable("XCOS_MODELS", RealFaces.ModelsDir());
        var root = Path.Combine(DevFaces.Root, "photos");
        var people = Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        string Photo(string who, int i) => Directory.GetFiles(Path.Combine(root, who)).Order(StringComparer.Ordinal).ElementAt(i);
        var uri = server.NewGallery("mlnet");
        using (var encoder = new OnnxFaceEncoder(RealFaces.ModelsDir(), intraOpThreads: 1))
        using (var g = FaceGalleries.Open(uri, encoder.Model, GalleryOpenMode.OpenOrCreate))
        {
            var id = new FaceIdentifier(encoder, g);
            foreach (var who in people.Take(3)) Assert.Equal("ok", id.EnrollFile(who!, Photo(who!, 0)).Status);
        }
        var rows = people.Take(3).Select(w => new Row { Path = Photo(w!, 1) }).Append(new Row { Path = Photo(people[^1]!, 0) }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LoadImages("Image", null, "Path").Append(ml.Transforms.IdentifyFaces(uri)).Fit(data);
        var before = model.Transform(data);
        var names = before.GetColumn<string>("Identity").ToArray();
        Assert.Equal(people.Take(3), names.Take(3));
        Assert.Equal([false, false, false, true], before.GetColumn<bool>("Unknown").ToArray());
        var zip = Path.Combine(Directory.CreateTempSubdirectory("xcos-pg-mlnet").FullName, "identify.zip");
        ml.Model.Save(model, data.Schema, zip);
        var ml2 = new MLContext(seed: 2);
        ml2.ComponentCatalog.RegisterAssembly(typeof(IdentifyFacesFactory).Assembly);
        IdentifyFacesFactory.UseGallery(uri);
        var after = ml2.Model.Load(zip, out _).Transform(ml2.Data.LoadFromEnumerable(rows));
        Assert.Equal(names, after.GetColumn<string>("Identity").ToArray());
        Assert.Equal(before.GetColumn<float>("IdentityScore").ToArray(), after.GetColumn<float>("IdentityScore").ToArray());
    }
}
