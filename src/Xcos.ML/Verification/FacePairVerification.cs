using System.Text;
using System.Text.Json;
using Xcos.ML.Heads;
using Xcos.ML.Images;

namespace Xcos.ML.Verification;

/// <summary>
/// The one result of verifying a pair of faces, whatever the model (ONNX face model or TorchSharp checkpoint). It writes
/// its own JSON (<see cref="WriteJson"/>, one schema for both) and its explanation figure is drawn from it
/// (<c>Figures.VerificationFigure.ToExplanationInput</c>).
/// A failed pair (a face not ok) has <see cref="Same"/> false, <see cref="Decision"/> Different, NaN scores and null maps
/// whatever it was built with (the getters enforce it, also after <c>with</c>), and <see cref="PairStatus"/> names every
/// failed face.
/// </summary>
/// <param name="Face1">First face.</param>
/// <param name="Face2">Second face.</param>
/// <param name="Xcos">xCos score of <paramref name="Variant"/>; NaN when failed.</param>
/// <param name="Cosine">The plain cosine named by <paramref name="CosineSource"/>; NaN when failed.</param>
/// <param name="CosineSource">"model" (an ONNX face model's own embedding cosine), "target" (a checkpoint's frozen target backbone) or "grid" (a checkpoint without one: the flattened grid embeddings).</param>
/// <param name="DecidedBy">"cosine" (ONNX face models: xCos explains the model's cosine) or "xcos" (checkpoints: xCos is the verification score).</param>
/// <param name="Threshold">Threshold on the deciding score; null when none was given.</param>
/// <param name="Decision">Same when the deciding score is above the threshold; Undecided without a threshold.</param>
/// <param name="Variant">The xCos variant.</param>
/// <param name="CosMap">Per-cell cosines, row-major (49 for 7x7); null when failed.</param>
/// <param name="Attention">Per-cell attention, summing to 1; null when failed.</param>
/// <param name="Contributions">Per-cell exact contributions to the cosine (weight-derived decomposition); null where the model gives none.</param>
/// <param name="BiasContribution">The head's constant term's share of the cosine; null where the model gives none.</param>
/// <param name="Milliseconds">Wall time of this pair (a batch shares its faces' time between the pairs that first used them).</param>
public sealed record FacePairVerification(
    FaceReport Face1, FaceReport Face2, double Xcos, double Cosine, string CosineSource, string DecidedBy, double? Threshold,
    VerificationDecision Decision, XcosVariant Variant, float[]? CosMap, float[]? Attention, float[]? Contributions, double? BiasContribution,
    double Milliseconds)
{
    // A face that failed has no embedding: any number scored for it (an empty face against another) would be believable and wrong.
    /// <summary>xCos score; NaN when the pair failed.</summary>
    public double Xcos { get => IsOk ? field : double.NaN; init; } = Xcos;
    /// <summary>The plain cosine; NaN when the pair failed.</summary>
    public double Cosine { get => IsOk ? field : double.NaN; init; } = Cosine;
    /// <summary>Same, Different or Undecided; Different when the pair failed.</summary>
    public VerificationDecision Decision { get => IsOk ? field : VerificationDecision.Different; init; } = Decision;
    /// <summary>Per-cell cosines; null when the pair failed.</summary>
    public float[]? CosMap { get => IsOk ? field : null; init; } = CosMap;
    /// <summary>Per-cell attention; null when the pair failed.</summary>
    public float[]? Attention { get => IsOk ? field : null; init; } = Attention;
    /// <summary>Per-cell contributions to the cosine; null when the pair failed or the model gives none.</summary>
    public float[]? Contributions { get => IsOk ? field : null; init; } = Contributions;
    /// <summary>The head's constant term's share of the cosine; null when the pair failed or the model gives none.</summary>
    public double? BiasContribution { get => IsOk ? field : null; init; } = BiasContribution;

    /// <summary>Both faces were used and the pair was scored.</summary>
    public bool IsOk => Face1.IsOk && Face2.IsOk;

    /// <summary>Ok, or the first failing face's status.</summary>
    public FaceStatus Status => !Face1.IsOk ? Face1.Status : Face2.Status;

    /// <summary>"ok", or every failed face with its status ("face2 no_face", "face1 missing_file; face2 missing_file"), as the ML.NET Status column.</summary>
    public string PairStatus => IsOk ? "ok"
        : string.Join("; ", new[] { ("face1", Face1), ("face2", Face2) }.Where(f => !f.Item2.IsOk).Select(f => $"{f.Item1} {f.Item2.Status.ToText()}"));

    /// <summary>True only when decided Same (never for a failed or undecided pair).</summary>
    public bool Same => Decision == VerificationDecision.Same;

    /// <summary>The score the threshold applies to (<see cref="Cosine"/> or <see cref="Xcos"/>, by <see cref="DecidedBy"/>).</summary>
    public double DecidingScore => DecidedBy == "cosine" ? Cosine : Xcos;

    /// <summary>Why the pair failed, naming the faces ("photo.png: no_face"); null when ok.</summary>
    public string? FailureText => IsOk ? null
        : string.Join("; ", new[] { Face1, Face2 }.Where(f => !f.IsOk).Select(f => $"{f.Path}: {f.StatusText}"));

    /// <summary>The decision rule every verifier uses: same when the deciding score is strictly above the threshold.</summary>
    public static VerificationDecision Decide(double decidingScore, double? threshold) =>
        threshold is not { } t ? VerificationDecision.Undecided
        : decidingScore > t ? VerificationDecision.Same : VerificationDecision.Different;

    /// <summary>What <see cref="CosMap"/> holds, as a figure title ("Cell share of xCos" for an anchored learned head; null: patch cosines).</summary>
    public string? MapTitle { get; init; }

    /// <summary>One JSON object on one line (snake_case keys; see <see cref="WriteJson"/>).</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream)) WriteJson(w);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>
    /// Writes the pair as JSON: status (the first failure), pair_status (every failed face), score (xCos), cosine, cosine_source, decided_by, decision (same / different /
    /// undecided), threshold, same (null when undecided), xcos_variant, cos_map / attention / contributions as 7x7 rows,
    /// bias_contribution, faces (path, status, detail, face_count, box, detection_score, landmarks, note) and milliseconds.
    /// Scores of a failed pair are null; keys without a value are left out.
    /// </summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WriteStartObject();
        w.WriteString("status", Status.ToText());
        w.WriteString("pair_status", PairStatus);
        Number(w, "score", Xcos);
        Number(w, "cosine", Cosine);
        w.WriteString("cosine_source", CosineSource);
        w.WriteString("decided_by", DecidedBy);
        w.WriteString("decision", Decision switch { VerificationDecision.Same => "same", VerificationDecision.Different => "different", _ => "undecided" });
        if (Threshold is { } t) w.WriteNumber("threshold", t);
        if (Decision == VerificationDecision.Undecided) w.WriteNull("same"); else w.WriteBoolean("same", Same);
        w.WriteString("xcos_variant", Variant.ToText());
        Grid(w, "cos_map", CosMap);
        Grid(w, "attention", Attention);
        Grid(w, "contributions", Contributions);
        if (BiasContribution is { } bias) Number(w, "bias_contribution", bias);
        w.WriteStartArray("faces");
        foreach (var f in new[] { Face1, Face2 }) Face(w, f);
        w.WriteEndArray();
        w.WriteNumber("milliseconds", Math.Round(Milliseconds, 3));
        w.WriteEndObject();
    }

    private static void Face(Utf8JsonWriter w, FaceReport f)
    {
        w.WriteStartObject();
        w.WriteString("path", f.Path);
        w.WriteString("status", f.Status.ToText());
        if (f.Detail is not null) w.WriteString("detail", f.Detail);
        w.WriteNumber("face_count", f.FaceCount);
        if (f.Box is { } b)
        {
            w.WriteStartArray("box");
            foreach (var v in new[] { b.X1, b.Y1, b.X2, b.Y2 }) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        if (f.DetectionScore is { } s) w.WriteNumber("detection_score", s);
        if (f.Landmarks is { } lm)
        {
            w.WriteStartArray("landmarks");
            foreach (var p in lm)
            {
                w.WriteStartArray();
                foreach (var v in p) w.WriteNumberValue(v);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }
        if (f.Note is { } note) w.WriteString("note", note);
        w.WriteEndObject();
    }

    // JSON has no NaN: a missing score is null
    private static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static void Grid(Utf8JsonWriter w, string name, float[]? map)
    {
        if (map is null) return;
        w.WriteStartArray(name);
        foreach (var row in Rows(map))
        {
            w.WriteStartArray();
            foreach (var v in row) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }

    /// <summary>A square map's rows (7 rows of 7 for a 7x7 grid).</summary>
    /// <exception cref="ArgumentException">The map is not square.</exception>
    public static float[][] Rows(float[] map)
    {
        ArgumentNullException.ThrowIfNull(map);
        int side = (int)Math.Round(Math.Sqrt(map.Length));
        if (side * side != map.Length) throw new ArgumentException($"a map of {map.Length} cells is not square");
        return Enumerable.Range(0, side).Select(r => map[(r * side)..((r + 1) * side)]).ToArray();
    }
}
