using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Gallery;
using Xcos.ML.MLNet;
using Xunit;

namespace Xcos.ML.Tests;

/// <summary>Identification as an ML.NET stage: in a pipeline, then saved and loaded with the gallery named at load time.</summary>
public class GalleryMLNetTests
{
    private sealed class Row { public string Path { get; set; } = ""; }

    [RealModelsFact]
    public void IdentifyFaces_names_enrolled_people_marks_a_stranger_unknown_and_survives_save_and_load()
    {
        // the stage opens its face model from ModelStore's folder, as a loaded model would
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("XCOS_MODELS"))) Environment.SetEnvironmentVariable("XCOS_MODELS", RealFaces.ModelsDir());
        var root = Path.Combine(DevFaces.Root, "photos");
        var people = Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        string Photo(string who, int i) => Directory.GetFiles(Path.Combine(root, who)).Order(StringComparer.Ordinal).ElementAt(i);
        var dir = Directory.CreateTempSubdirectory("xcos-gal-mlnet").FullName;
        var gallery = Path.Combine(dir, "g.gallery");
        using (var encoder = new OnnxFaceEncoder(RealFaces.ModelsDir(), intraOpThreads: 1))
        using (var g = FaceGallery.Create(gallery, encoder.Model))
        {
            var id = new FaceIdentifier(encoder, g);
            foreach (var who in people.Take(3)) Assert.Equal("ok", id.EnrollFile(who!, Photo(who!, 0)).Status);
        }
        var rows = people.Take(3).Select(w => new Row { Path = Photo(w!, 1) }).Append(new Row { Path = Photo(people[^1]!, 0) }).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LoadImages("Image", null, "Path").Append(ml.Transforms.IdentifyFaces(gallery)).Fit(data);
        var before = model.Transform(data);
        var names = before.GetColumn<string>("Identity").ToArray();
        var unknown = before.GetColumn<bool>("Unknown").ToArray();
        Assert.Equal(people.Take(3), names.Take(3));
        Assert.Equal([false, false, false, true], unknown);
        Assert.Equal("", names[3]);   // a stranger is named no one, not the nearest person
        Assert.True(float.IsFinite(before.GetColumn<float>("IdentityScore").ToArray()[3]));   // the nearest cosine still says how near
        Assert.All(before.GetColumn<VBuffer<ReadOnlyMemory<char>>>("TopIdentities"), t => Assert.Equal(3, t.Length));

        var zip = Path.Combine(dir, "identify.zip");
        ml.Model.Save(model, data.Schema, zip);
        var ml2 = new MLContext(seed: 2);
        ml2.ComponentCatalog.RegisterAssembly(typeof(IdentifyFacesFactory).Assembly);
        IdentifyFacesFactory.UseGallery(gallery);
        var after = ml2.Model.Load(zip, out _).Transform(ml2.Data.LoadFromEnumerable(rows));
        Assert.Equal(names, after.GetColumn<string>("Identity").ToArray());
        Assert.Equal(before.GetColumn<float>("IdentityScore").ToArray(), after.GetColumn<float>("IdentityScore").ToArray());
        Assert.Equal(unknown, after.GetColumn<bool>("Unknown").ToArray());
    }

    // A saved identification stage whose gallery is gone: loading throws the stage's own failure, not the two
    // TargetInvocationExceptions ML.NET's reflection wraps it in (#23 smaller: reload failures)
    [Fact]
    public void Loading_an_identification_model_whose_gallery_is_missing_throws_the_cause_not_reflections_wrapper()
    {
        MLImageTypeRegistration.Ensure();
        var dir = Directory.CreateTempSubdirectory("xcos-gal-reload").FullName;
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable([new IdentifyFacesInput()]);
        // the saved form of the stage (its contract name), fitted without a gallery or a face model
        var model = ml.Transforms.CustomMapping<IdentifyFacesInput, IdentifyFacesOutput>((_, _) => { }, IdentifyFacesFactory.ContractName).Fit(data);
        var zip = Path.Combine(dir, "identify.zip");
        ml.Model.Save(model, null, zip);   // an MLImage column has no saved form; the stage needs no input schema to load

        var gallery = Path.Combine(dir, "gone.gallery");
        IdentifyFacesFactory.UseGallery(gallery);
        var direct = Record.Exception(() => IdentifyFacesFactory.Shared(IdentifyFacesFactory.GalleryPath()));
        Assert.NotNull(direct);
        var ml2 = new MLContext(seed: 2);
        ml2.ComponentCatalog.RegisterAssembly(typeof(IdentifyFacesFactory).Assembly);
        var loading = Record.Exception(() => XcosModelArchive.Load(ml2, zip, out _));
        Assert.IsType(direct.GetType(), loading);
        Assert.Equal(direct.Message, loading.Message);
    }
}
