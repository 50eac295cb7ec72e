using Xcos.ML.Gallery;
using Xcos.ML.Heads;
using Xcos.ML.Images;
using Xcos.ML.Verification;
using Xunit;
using Xunit.Abstractions;

namespace Xcos.ML.Tests;

/// <summary>
/// 1:N on ../shared/dev-faces with fr_feature: enrol one photo per person, identify the other 90. The gallery's
/// rank-1 must equal an exhaustive cosine search done here by hand with the same embeddings; xCos re-ranking is
/// reported beside it.
/// </summary>
public class GalleryDevFacesTests(ITestOutputHelper output)
{
    [RealModelsFact]
    public void Gallery_rank1_matches_exhaustive_cosine_and_xcos_rerank_is_reported()
    {
        var root = Path.Combine(DevFaces.Root, "photos");
        var people = Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(10, people.Count);
        using var encoder = new OnnxFaceEncoder(RealFaces.ModelsDir(), intraOpThreads: 1);
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-devfaces").FullName, "dev.gallery");
        using var gallery = FaceGallery.Create(path, encoder.Model);
        var identifier = new FaceIdentifier(encoder, gallery, path);
        var probes = new List<ProbeRow>();
        foreach (var who in people)
        {
            var photos = Directory.GetFiles(Path.Combine(root, who!)).Order(StringComparer.Ordinal).ToList();
            var enrolled = identifier.EnrollFile(who!, photos[0]);
            Assert.Equal("ok", enrolled.Status);
            probes.AddRange(photos.Skip(1).Select((p, i) => new ProbeRow(Path.GetRelativePath(root, p), who!, probes.Count + i + 1)));
        }
        Assert.Equal(10, gallery.FaceCount);
        var result = ProbeEvaluation.Run(identifier, probes, root, shortlist: 10);
        // exhaustive cosine over the ten enrolled embeddings, by hand
        var enrolledFaces = people.Select(p => gallery.FacesOf(p!)[0]).ToList();
        int correct = 0;
        foreach (var o in result.Outcomes)
        {
            var e = encoder.EncodeFile(Path.Combine(root, o.Row.File));
            var best = enrolledFaces.OrderByDescending(f => Cos(e.Embedding!, f.Embedding)).First();
            if (best.Identity == o.Row.Identity) correct++;
            Assert.Equal(best.Identity, o.ByCosine[0].Identity);
        }
        double exhaustive = correct / (double)result.Outcomes.Count;
        output.WriteLine($"dev-faces, fr_feature, 1 enrolled photo per person, {result.Outcomes.Count} probes searched, {result.Skipped.Count} skipped: " +
            $"rank-1 cosine {result.Cosine.Rank1:F4} (exhaustive {exhaustive:F4}), rank-1 xCos re-rank {result.Xcos.Rank1:F4}; rank-5 {result.Cosine.Rank5:F4} / {result.Xcos.Rank5:F4}");
        foreach (var s in result.Skipped) output.WriteLine($"skipped line {s.Line} {s.File}: {s.Reason}");
        Assert.True(result.Cosine.Rank1 >= exhaustive);
        Assert.True(result.Cosine.Rank1 >= 0.8, $"rank-1 {result.Cosine.Rank1}");   // fr_feature separates dev-faces almost perfectly
        Assert.Null(result.Cosine.Tpir);   // every probe is enrolled: no non-mated search
        Assert.All(result.Skipped, s => Assert.Equal(FaceStatus.NoFace, FaceStatusText.Parse(s.Reason)));
    }

    [RealModelsFact]
    public void A_probe_is_explained_against_each_match_and_a_stranger_is_unknown()
    {
        var root = Path.Combine(DevFaces.Root, "photos");
        using var encoder = new OnnxFaceEncoder(RealFaces.ModelsDir(), intraOpThreads: 1);
        using var gallery = FaceGallery.Create(Path.Combine(Directory.CreateTempSubdirectory("xcos-devfaces").FullName, "g"), encoder.Model);
        var identifier = new FaceIdentifier(encoder, gallery);
        var people = Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(4).ToList();
        foreach (var who in people) identifier.EnrollFile(who!, Directory.GetFiles(Path.Combine(root, who!)).Order(StringComparer.Ordinal).First());
        var mate = Directory.GetFiles(Path.Combine(root, people[1]!)).Order(StringComparer.Ordinal).ElementAt(2);
        var r = identifier.Identify(encoder.EncodeFile(mate), new FaceIdentifierOptions { Top = 3 });
        Assert.Equal(3, r.Matches.Count);
        Assert.Equal(people[1], r.Matches[0].Identity);
        Assert.False(r.Unknown);
        foreach (var m in r.Matches)
        {
            var ex = m.Explanation!;
            Assert.Equal(49, ex.CosMap.Length);
            Assert.Equal(1.0, ex.Attention.Sum(), 4);
            Assert.Equal(ex.Score, ex.CosMap.Zip(ex.Attention, (c, a) => (double)c * a).Sum(), 4);
            Assert.Equal(m.Score!.Value, ex.Score);
        }
        // someone not enrolled: the best cosine falls under the model's threshold
        var stranger = Directory.GetFiles(Path.Combine(root, Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal).Last()!)).First();
        var s = identifier.Identify(encoder.EncodeFile(stranger));
        Assert.True(s.Unknown, $"best cosine {s.Matches[0].Cosine} vs threshold {s.Threshold}");
        var none = identifier.Identify(encoder.EncodeFile(Path.Combine(root, "nope.jpg")));
        Assert.True(none.Unknown);
        Assert.Equal(FaceStatus.MissingFile, none.Probe.Status);
    }

    [RealModelsFact]
    public void Learned_xcos_galleries_store_maps_and_rerank_the_shortlist_in_the_heads_order()
    {
        var root = Path.Combine(DevFaces.Root, "photos");
        var models = RealFaces.ModelsDir();
        using var encoder = new OnnxFaceEncoder(models, intraOpThreads: 1, variant: XcosVariant.Learned);
        Assert.Equal("map:" + encoder.Embedder.FeatureMapName, encoder.Model.Codes);
        Assert.Equal(512 * 49, encoder.Model.CodeLength);
        var path = Path.Combine(Directory.CreateTempSubdirectory("xcos-devfaces-learned").FullName, "g");
        using (var gallery = FaceGallery.Create(path, encoder.Model))
        {
            var identifier = new FaceIdentifier(encoder, gallery, path);
            var people = Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(6).ToList();
            foreach (var who in people) Assert.Equal("ok", identifier.EnrollFile(who!, Directory.GetFiles(Path.Combine(root, who!)).Order(StringComparer.Ordinal).First()).Status);
            foreach (var who in people.Take(2))
            {
                var probe = encoder.EncodeFile(Directory.GetFiles(Path.Combine(root, who!)).Order(StringComparer.Ordinal).ElementAt(3));
                // the stored code is the face's map: the head on it equals the head on a fresh backbone pass of that photo
                Assert.Equal(probe.Code, encoder.Embedder.Embed(probe.Face!).FeatureMap);
                var r = identifier.Identify(probe, new FaceIdentifierOptions { Top = 6, Shortlist = 6, Rerank = true });
                Assert.Equal("xcos", r.Order);
                Assert.Equal(6, r.Matches.Count);
                var direct = r.Matches.Select(m => encoder.Learned!.Explain(probe.Code!, m.Face.Code).Xcos).ToArray();
                for (int i = 0; i < direct.Length; i++) Assert.Equal(direct[i], r.Matches[i].Score!.Value, 5);
                Assert.Equal(direct.OrderByDescending(v => v).ToArray(), direct);
                Assert.All(r.Matches, m => Assert.Null(m.Explanation!.Contributions));
                // one batched call gives what one call per candidate gives
                var one = r.Matches.Select(m => encoder.Compare(probe.Code!, m.Face.Code).Score).ToArray();
                Assert.Equal(one, encoder.CompareMany(probe.Code!, [.. r.Matches.Select(m => m.Face.Code)]).Select(x => x.Score), new ToleranceComparer(1e-5));
            }
        }
        // the same photos' gallery cannot be searched with the weight-derived codes
        using var weights = new OnnxFaceEncoder(models, intraOpThreads: 1);
        Assert.Equal(weights.Model.Hash, encoder.Model.Hash);
        var e = Assert.Throws<InvalidDataException>(() => FaceGallery.Open(path, weights.Model, new FaceGalleryOptions { ReadOnly = true }));
        Assert.Contains("--xcos learned", e.Message);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }

    private static double Cos(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }

    [RealModelsFact]
    public void Photos_encoded_in_one_batch_match_each_encoded_alone_and_failures_keep_their_place()
    {
        using var encoder = new OnnxFaceEncoder(RealFaces.ModelsDir(), intraOpThreads: 1);
        var photos = Directory.GetFiles(Path.Combine(DevFaces.Root, "photos"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(3).ToList();
        string?[] paths = [photos[0], Path.Combine(Path.GetTempPath(), $"xcos-gone-{Guid.NewGuid():N}.jpg"), photos[1], "", photos[2]];
        var batch = encoder.EncodeFiles(paths);
        Assert.Equal(paths.Length, batch.Count);
        Assert.Equal(FaceStatus.MissingFile, batch[1].Status);
        Assert.Equal(FaceStatus.EmptyPath, batch[3].Status);
        foreach (int i in new[] { 0, 2, 4 })
        {
            var alone = encoder.EncodeFile(paths[i]);
            Assert.Equal(FaceStatus.Ok, batch[i].Status);
            for (int k = 0; k < alone.Embedding!.Length; k++) Assert.True(Math.Abs(alone.Embedding[k] - batch[i].Embedding![k]) < 1e-4, $"photo {i} value {k}");
            for (int k = 0; k < alone.Code!.Length; k += 13) Assert.True(Math.Abs(alone.Code[k] - batch[i].Code![k]) < 1e-3, $"photo {i} code {k}");
        }
    }
}
