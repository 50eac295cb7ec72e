namespace Xcos.ML.FaceModels;

/// <summary>
/// Flip test-time augmentation as InsightFace reports LFW: a face's embedding is the sum of the embeddings of the
/// image and of its mirror. The mirror's feature map is mirrored back before the sum, so that each cell of the
/// summed map still covers the same part of the face (the xCos cosine map and attention stay in image coordinates).
/// </summary>
internal static class FlipEmbedding
{
    /// <summary>Sums <paramref name="face"/> and <paramref name="mirrored"/> (the embedding of the mirrored image).</summary>
    /// <param name="face">Embedding and map of the image.</param>
    /// <param name="mirrored">Embedding and map of its mirror.</param>
    /// <param name="mapShape">The map's [channels, height, width].</param>
    public static FaceEmbedding Combine(FaceEmbedding face, FaceEmbedding mirrored, IReadOnlyList<int> mapShape)
    {
        ArgumentNullException.ThrowIfNull(face);
        ArgumentNullException.ThrowIfNull(mirrored);
        if (mapShape.Count != 3) throw new ArgumentException("map shape must be [channels, height, width]", nameof(mapShape));
        if (face.Embedding.Length != mirrored.Embedding.Length || face.FeatureMap.Length != mirrored.FeatureMap.Length)
            throw new ArgumentException("the two embeddings differ in size");
        int c = mapShape[0], h = mapShape[1], w = mapShape[2];
        if (c * h * w != face.FeatureMap.Length) throw new ArgumentException($"map shape [{c},{h},{w}] does not match {face.FeatureMap.Length} values", nameof(mapShape));
        var emb = new float[face.Embedding.Length];
        for (int i = 0; i < emb.Length; i++) emb[i] = face.Embedding[i] + mirrored.Embedding[i];
        var map = new float[face.FeatureMap.Length];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
            {
                int row = (ch * h + y) * w;
                for (int x = 0; x < w; x++) map[row + x] = face.FeatureMap[row + x] + mirrored.FeatureMap[row + (w - 1 - x)];
            }
        return new FaceEmbedding(emb, map);
    }
}
