using System.Text.Json.Serialization;

namespace Xcos.ML.Gallery;

/// <summary>One match of <see cref="IdentificationJson"/> (snake_case, as `xcos identify --json` and the server's /v1/identify write it).</summary>
/// <param name="Identity">Enrolled identity.</param>
/// <param name="Score">xCos of the probe against the identity's best face; null without the pair head.</param>
/// <param name="Cosine">The model's cosine (decides open-set "unknown").</param>
/// <param name="File">Source file recorded at enrolment (an upload's file name for faces enrolled through the server).</param>
/// <param name="FaceId">Id of the identity's best face in the gallery.</param>
/// <param name="CosineRank">Rank by cosine (1 = nearest), whatever the order of the list.</param>
/// <param name="CosMap">Per-cell cosines, row-major (49 for 7x7).</param>
/// <param name="Attention">Per-cell attention, summing to 1.</param>
/// <param name="Contributions">Per-cell contributions to the cosine, or null.</param>
public sealed record IdentificationMatchJson(
    [property: JsonPropertyName("identity")] string Identity,
    [property: JsonPropertyName("score")] double? Score,
    [property: JsonPropertyName("cosine")] double Cosine,
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("face_id")] long FaceId,
    [property: JsonPropertyName("cosine_rank")] int CosineRank,
    [property: JsonPropertyName("cos_map")] float[]? CosMap,
    [property: JsonPropertyName("attention")] float[]? Attention,
    [property: JsonPropertyName("contributions")] float[]? Contributions);

/// <summary>
/// The JSON of one identification (`xcos identify --json`, and the body of the server's /v1/identify): the probe, its
/// face status, the matches best first, whether the probe is unknown (best cosine under the threshold), the threshold,
/// the order ("cosine" or "xcos") and the gallery's size.
/// </summary>
/// <param name="Probe">The probe's path or upload name.</param>
/// <param name="Status">The probe's face status text ("ok", "no_face", ...).</param>
/// <param name="Matches">Matches, best first.</param>
/// <param name="Unknown">True when the best cosine is under the threshold (or there is no match).</param>
/// <param name="Threshold">The open-set cosine threshold applied.</param>
/// <param name="Order">"cosine" or "xcos" (re-ranked).</param>
/// <param name="GalleryFaces">Faces in the gallery searched.</param>
public sealed record IdentificationJson(
    [property: JsonPropertyName("probe")] string Probe,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("matches")] IdentificationMatchJson[] Matches,
    [property: JsonPropertyName("unknown")] bool Unknown,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("order")] string Order,
    [property: JsonPropertyName("gallery_faces")] int GalleryFaces)
{
    /// <summary>The JSON shape of <paramref name="result"/> for the probe named <paramref name="probe"/>.</summary>
    public static IdentificationJson From(string probe, Identification result, int galleryFaces)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new IdentificationJson(probe, result.Probe.StatusText,
            result.Matches.Select(m => new IdentificationMatchJson(m.Identity, m.Score, m.Cosine, m.Face.SourceFile, m.Face.Id, m.CosineRank,
                m.Explanation?.CosMap, m.Explanation?.Attention, m.Explanation?.Contributions)).ToArray(),
            result.Unknown, result.Threshold, result.Order, galleryFaces);
    }
}
