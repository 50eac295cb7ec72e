using Xcos.ML.Images;
using Xcos.ML.Verification;

namespace Xcos.ML.Gallery;

/// <summary>An enrolment of one photo.</summary>
/// <param name="Identity">Under whom.</param>
/// <param name="File">The photo.</param>
/// <param name="Status">Ok, or why it was not enrolled (no_face, missing_file, ...).</param>
/// <param name="Face">The stored face, or null.</param>
public sealed record Enrolment(string Identity, string File, string Status, GalleryFace? Face);

/// <summary>
/// 1:N identification: an <see cref="IFaceEncoder"/> (the model) over an <see cref="IFaceGallery"/> (the storage and
/// the cosine search). The cosine search shortlists identities; the pair head scores the shortlist on cached face
/// codes (no backbone pass), to explain each match and, when asked, to re-rank.
/// </summary>
public sealed class FaceIdentifier
{
    /// <summary>Joins a model and a gallery built with it.</summary>
    /// <exception cref="InvalidDataException">The gallery was built with another model.</exception>
    public FaceIdentifier(IFaceEncoder encoder, IFaceGallery gallery, string? gallerySource = null)
    {
        Encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        Gallery = gallery ?? throw new ArgumentNullException(nameof(gallery));
        gallery.Model.CheckSame(encoder.Model, gallerySource ?? "gallery");
    }

    /// <summary>The face model that turns photos into embeddings and codes.</summary>
    public IFaceEncoder Encoder { get; }
    /// <summary>The enrolled faces that probes are searched against.</summary>
    public IFaceGallery Gallery { get; }

    /// <summary>Encodes a photo file and enrols its face under <paramref name="identity"/>; a photo without a face is reported, not enrolled.</summary>
    public Enrolment EnrollFile(string identity, string path, bool aligned = false) => EnrollFiles([(identity, path)], aligned)[0];

    /// <summary>Encodes photo files in one batch (<see cref="FaceEncoderFiles.EncodeFiles"/>) and enrols each face in order; photos without a face are reported, not enrolled.</summary>
    public IReadOnlyList<Enrolment> EnrollFiles(IReadOnlyList<(string Identity, string Path)> photos, bool aligned = false)
    {
        ArgumentNullException.ThrowIfNull(photos);
        return EnrollFiles(photos.Select(p => (p.Identity, p.Path, (string?)null)).ToList(), aligned);
    }

    /// <summary>As <see cref="EnrollFiles(IReadOnlyList{ValueTuple{string, string}}, bool)"/>, each face stored with its photo's content hash (<see cref="IFaceGallery.Enroll(string, float[], float[], string, string?)"/>).</summary>
    public IReadOnlyList<Enrolment> EnrollFiles(IReadOnlyList<(string Identity, string Path, string? ContentHash)> photos, bool aligned = false)
    {
        ArgumentNullException.ThrowIfNull(photos);
        var encoded = Encoder.EncodeFiles(photos.Select(p => (string?)p.Path).ToList(), aligned);
        return photos.Select((p, i) => encoded[i] is { Status: FaceStatus.Ok } e
            ? new Enrolment(p.Identity, p.Path, e.StatusText, Gallery.Enroll(p.Identity, e.Embedding!, e.Code!, p.Path, p.ContentHash))
            : new Enrolment(p.Identity, p.Path, encoded[i].StatusText, null)).ToList();
    }

    /// <summary>Identifies the face in a photo.</summary>
    public Identification Identify(RgbImage photo, FaceIdentifierOptions? options = null)
    {
        options ??= new FaceIdentifierOptions();
        return Identify(Encoder.Encode(photo, options.Aligned), options);
    }

    /// <summary>Identifies an encoded probe (from <see cref="IFaceEncoder.Encode"/> or <see cref="FaceEncoderFiles.EncodeFile"/>).</summary>
    public Identification Identify(FaceEncoding probe, FaceIdentifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        options ??= new FaceIdentifierOptions();
        options.Validate();
        double threshold = options.Threshold ?? Encoder.Threshold
            ?? throw new ArgumentException($"face model '{Encoder.Model.Name}' has no threshold of its own; give one (FaceIdentifierOptions.Threshold)");
        string order = options.Rerank ? "xcos" : "cosine";
        if (probe.Status != FaceStatus.Ok) return new Identification(probe, [], true, threshold, order);
        var shortlist = Gallery.Search(probe.Embedding!, Math.Max(options.Top, options.Shortlist));
        // the whole shortlist in one head call, on the stored codes: no backbone pass for gallery faces
        var explained = options.Explain && shortlist.Count > 0 ? Encoder.CompareMany(probe.Code!, shortlist.Select(c => c.BestFace.Code).ToArray()) : null;
        var matches = shortlist.Select((c, i) => new IdentityMatch(c.Identity, c.Cosine, explained?[i].Score, i + 1, c.BestFace, explained?[i]));
        var ordered = (options.Rerank ? matches.OrderByDescending(m => m.Score!.Value).ThenByDescending(m => m.Cosine) : matches)
            .Take(options.Top).ToList();
        bool unknown = shortlist.Count == 0 || shortlist[0].Cosine < threshold;
        return new Identification(probe, ordered, unknown, threshold, order);
    }
}
