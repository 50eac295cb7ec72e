using System.Collections.Concurrent;
using Microsoft.ML.Transforms;
using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.MLNet;

/// <summary>
/// The identification stage of an ML.NET pipeline (<see cref="XcosCatalog.IdentifyFaces"/>): probe image in;
/// identity, cosine, open-set "unknown" and the top identities out, against a gallery (a file, or a postgresql:// database through Xcos.ML.PgVector) built with fr_feature.
/// </summary>
/// <remarks>
/// The gallery is a file the pipeline refers to, not part of the .zip. ML.NET's CustomMapping saves only this
/// contract name, and a gallery changes on its own schedule (every enrolment and removal) and grows large (a face
/// code per face), so freezing a copy into each saved model would serve stale identities. At load time the stage
/// finds the gallery as the detector stage finds its models (<see cref="FaceDetectorLandmarkFactory"/>): the path
/// given to <see cref="UseGallery"/> in this process, else <c>$XCOS_GALLERY</c>; the face model comes from the models
/// folder of <see cref="ModelStore.ResolveDirectory"/>, and the gallery's model stamp must match it. Register the
/// assembly (<c>mlContext.ComponentCatalog.RegisterAssembly(typeof(IdentifyFacesFactory).Assembly)</c>) before loading.
/// Load with <see cref="XcosModelArchive.Load"/> to get a missing gallery's own exception; <c>mlContext.Model.Load</c>
/// wraps it in <see cref="System.Reflection.TargetInvocationException"/>s.
/// </remarks>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class IdentifyFacesFactory : CustomMappingFactory<IdentifyFacesInput, IdentifyFacesOutput>
{
    /// <summary>Contract name saved in the model.</summary>
    public const string ContractName = "Xcos.ML.IdentifyFaces.v1";

    /// <summary>Environment variable naming the gallery (file or URI) of loaded models.</summary>
    public const string GalleryVariable = FaceGalleries.EnvironmentVariable;

    /// <summary>Identities in <see cref="IdentifyFacesOutput.TopIdentities"/>.</summary>
    public const int Top = 5;

    private static readonly ConcurrentDictionary<string, Lazy<FaceIdentifier>> Identifiers = new(StringComparer.Ordinal);
    private static string? _gallery;

    /// <summary>
    /// Makes <paramref name="galleryPath"/> (a gallery file, or a <c>postgresql://</c> URI: <see cref="FaceGalleries"/>)
    /// the gallery of identification stages built or loaded from now on in this process.
    /// </summary>
    public static void UseGallery(string galleryPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(galleryPath);
        _gallery = FaceGalleries.Normalize(galleryPath);
    }

    /// <summary>The gallery in use: <see cref="UseGallery"/>'s, else <c>$XCOS_GALLERY</c>.</summary>
    /// <exception cref="InvalidOperationException">Neither names one.</exception>
    public static string GalleryPath() => _gallery
        ?? (FaceGalleries.FromEnvironment() is { } env ? FaceGalleries.Normalize(env) : null)
        ?? throw new InvalidOperationException($"the identification stage ({ContractName}) needs a gallery (file or postgresql:// URI): call IdentifyFacesFactory.UseGallery(location) or set {GalleryVariable}");

    internal static FaceIdentifier Shared(string gallery)
    {
        var lazy = Identifiers.GetOrAdd(gallery, g => new Lazy<FaceIdentifier>(() =>
        {
            var encoder = new OnnxFaceEncoder();
            try { return new FaceIdentifier(encoder, FaceGalleries.Open(g, encoder.Model, GalleryOpenMode.ReadOnly), FaceGalleries.Display(g)); }
            catch { encoder.Dispose(); throw; }
        }));
        try { return lazy.Value; }
        catch
        {
            Identifiers.TryRemove(new KeyValuePair<string, Lazy<FaceIdentifier>>(gallery, lazy));   // a later load may find the files
            throw;
        }
    }

    /// <summary>The row mapping of one identifier.</summary>
    internal static Action<IdentifyFacesInput, IdentifyFacesOutput> Mapping(FaceIdentifier identifier) => (input, output) =>
    {
        var probe = input.Image is null ? FaceEncoding.Failed(FaceStatus.EmptyPath, "no image") : identifier.Encoder.Encode(ImageIO.FromMLImage(input.Image));
        var r = identifier.Identify(probe, new FaceIdentifierOptions { Top = Top, Shortlist = Top, Explain = false });
        output.IdentifyStatus = probe.StatusText;
        // an unknown face is no one: naming the nearest person would read as an identification
        output.Identity = r.Matches.Count > 0 && !r.Unknown ? r.Matches[0].Identity : "";
        output.IdentityScore = r.Matches.Count > 0 ? (float)r.Matches[0].Cosine : float.NaN;
        output.Unknown = r.Unknown;
        output.TopIdentities = r.Matches.Select(m => m.Identity).ToArray();
        output.TopScores = r.Matches.Select(m => (float)m.Cosine).ToArray();
    };

    /// <inheritdoc/>
    public override Action<IdentifyFacesInput, IdentifyFacesOutput> GetMapping()
    {
        MLImageTypeRegistration.Ensure();
        return Mapping(Shared(GalleryPath()));
    }
}
