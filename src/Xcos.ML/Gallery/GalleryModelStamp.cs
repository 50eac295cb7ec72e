using System.Security.Cryptography;

namespace Xcos.ML.Gallery;

/// <summary>
/// The face model a gallery was built with: embeddings and face codes of one model mean nothing to another, so a
/// gallery records this stamp and refuses to open with a different one.
/// </summary>
/// <param name="Name">The model's name (a descriptor's name, or "checkpoint:&lt;file name&gt;").</param>
/// <param name="Hash">"sha256:&lt;hex&gt;" of the model's bytes and the settings that change its outputs.</param>
/// <param name="EmbeddingDim">Embedding length.</param>
/// <param name="CodeLength">Face-code length (floats) the model's pair head reads.</param>
/// <param name="Codes">
/// What the face codes are: <see cref="ModelCodes"/> (the model's own pair head: weight-derived cell features of an ONNX
/// model, the grid of a checkpoint; every version-1 gallery) or <see cref="MapCodes"/> + the map's name (the raw last
/// feature map, which a learned xCos head reads). Codes of one kind mean nothing to the other's head.
/// </param>
public sealed record GalleryModelStamp(string Name, string Hash, int EmbeddingDim, int CodeLength, string Codes = GalleryModelStamp.ModelCodes)
{
    /// <summary>Codes for the model's own pair head (<c>--xcos weights</c> for an ONNX model).</summary>
    public const string ModelCodes = "model";

    /// <summary>Prefix of codes that are the raw feature map, for a learned xCos head (<c>--xcos learned</c>): "map:&lt;value name&gt;".</summary>
    public const string MapCodes = "map:";

    /// <summary>The --xcos variant whose codes these are ("learned" for map codes, else "weights").</summary>
    public string CodesVariant => Codes.StartsWith(MapCodes, StringComparison.Ordinal) ? "learned" : "weights";

    /// <summary>"sha256:&lt;hex&gt;" of a model file followed by a settings text (input size, colour order, normalisation).</summary>
    public static string HashOf(string modelPath, string settings)
    {
        using var sha = SHA256.Create();
        using (var f = File.OpenRead(modelPath))
        {
            var buffer = new byte[1 << 20];
            int n;
            while ((n = f.Read(buffer, 0, buffer.Length)) > 0) sha.TransformBlock(buffer, 0, n, null, 0);
        }
        var tail = System.Text.Encoding.UTF8.GetBytes("|" + settings);
        sha.TransformFinalBlock(tail, 0, tail.Length);
        return "sha256:" + Convert.ToHexStringLower(sha.Hash!);
    }

    /// <summary>Throws when <paramref name="other"/> is not this model; <paramref name="source"/> names the gallery file.</summary>
    /// <exception cref="InvalidDataException">Another model: its scores against this gallery would be silently wrong.</exception>
    public void CheckSame(GalleryModelStamp other, string source)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other == this) return;
        if (other with { Codes = Codes } == this)
            throw new InvalidDataException($"{source}: the gallery was enrolled with --xcos {CodesVariant} (face codes '{Codes}'); this search uses --xcos {other.CodesVariant} " +
                $"(codes '{other.Codes}'): search it with --xcos {CodesVariant}, or enrol the photos into a new gallery with --xcos {other.CodesVariant}.");
        throw new InvalidDataException($"{source}: the gallery was built with face model '{Name}' ({Hash}, {EmbeddingDim}-d embeddings, " +
            $"{CodeLength}-float codes); it cannot be searched with '{other.Name}' ({other.Hash}, {other.EmbeddingDim}-d, {other.CodeLength}-float codes). " +
            "Enrol the photos again into a new gallery with this model.");
    }

    /// <summary>Throws when a face to enrol does not fit this model: its lengths, or an embedding that is zero or not finite.</summary>
    /// <exception cref="ArgumentException">The message names the gallery (<paramref name="location"/>) or the photo.</exception>
    public void CheckFace(string location, float[] embedding, float[] code, string sourceFile)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(sourceFile);
        if (embedding.Length != EmbeddingDim || code.Length != CodeLength)
            throw new ArgumentException($"{location}: the gallery holds {EmbeddingDim}-d embeddings and {CodeLength}-float codes, got {embedding.Length} and {code.Length}");
        float norm = System.Numerics.Tensors.TensorPrimitives.Norm(embedding);
        if (!float.IsFinite(norm) || norm == 0)
            throw new ArgumentException($"{sourceFile}: the embedding is zero or not finite", nameof(embedding));
    }
}
