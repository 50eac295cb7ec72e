using Xcos.ML.Images;

namespace Xcos.ML.FaceModels;

/// <summary>The face-pair scorings' shared first step (<c>LearnedHeadScoring</c>, <c>RealFaceScoring</c>): each distinct face (by reference) of a call embedded once, in batches.</summary>
internal static class DistinctFaceEmbeddings
{
    /// <summary>Embeds the distinct faces of both lists; <c>Index</c> maps a face to its embedding.</summary>
    /// <exception cref="ArgumentException">The lists differ in length, or a face is null.</exception>
    public static (FaceEmbedding[] Embeddings, Dictionary<RgbImage, int> Index) Embed(
        OnnxFaceEmbedder embedder, IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2, int batch)
    {
        ArgumentNullException.ThrowIfNull(faces1);
        ArgumentNullException.ThrowIfNull(faces2);
        if (faces1.Count != faces2.Count) throw new ArgumentException($"{faces1.Count} first faces but {faces2.Count} second faces");
        var index = new Dictionary<RgbImage, int>(ReferenceEqualityComparer.Instance);
        var list = new List<RgbImage>();
        foreach (var f in faces1.Concat(faces2))
            if (index.TryAdd(f ?? throw new ArgumentException("a face is null"), list.Count)) list.Add(f);
        var embeddings = new FaceEmbedding[list.Count];
        for (int s = 0; s < list.Count; s += batch)
        {
            var part = embedder.Embed(list.GetRange(s, Math.Min(batch, list.Count - s)));
            for (int i = 0; i < part.Count; i++) embeddings[s + i] = part[i];
        }
        return (embeddings, index);
    }
}
