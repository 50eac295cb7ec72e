using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Numerics;

namespace Xcos.ML.Heads;

/// <summary>
/// Scores pairs of aligned faces with an ONNX face model and a learned xCos head (<c>xcos train --mode head
/// --onnx-model</c>): "xcos" is the head's score on the two last feature maps, "cosine" the model's own embedding cosine.
/// </summary>
/// <remarks>Within one <see cref="Score"/> call faces repeated by reference are embedded once.</remarks>
public sealed class LearnedHeadScoring : IFacePairScoring
{
    private readonly OnnxFaceEmbedder _embedder;
    private readonly LearnedHead _head;
    private readonly int _batch;

    /// <param name="embedder">The face model.</param>
    /// <param name="head">The learned head trained on that model's maps.</param>
    /// <param name="batchSize">Faces per ONNX Runtime call, and pairs per head call (default 32).</param>
    public LearnedHeadScoring(OnnxFaceEmbedder embedder, LearnedHead head, int batchSize = 32)
    {
        _embedder = embedder ?? throw new ArgumentNullException(nameof(embedder));
        _head = head ?? throw new ArgumentNullException(nameof(head));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be positive");
        _batch = batchSize;
    }

    /// <summary>Score names: "xcos" (index 0) and "cosine".</summary>
    public IReadOnlyList<string> ScoreNames { get; } = ["xcos", "cosine"];

    /// <inheritdoc/>
    public double[][] Score(IReadOnlyList<RgbImage> faces1, IReadOnlyList<RgbImage> faces2)
    {
        var (emb, unique) = DistinctFaceEmbeddings.Embed(_embedder, faces1, faces2, _batch);
        int n = faces1.Count;
        var cos = new double[n];
        var xc = new double[n];
        for (int s = 0; s < n; s += _batch)
        {
            int count = Math.Min(_batch, n - s);
            var batch = Enumerable.Range(s, count).Select(i => (A: emb[unique[faces1[i]]], B: emb[unique[faces2[i]]])).ToArray();
            var r = _head.Explain([.. batch.Select(p => (p.A.FeatureMap, p.B.FeatureMap, p.A.Embedding, p.B.Embedding))]);
            for (int i = 0; i < count; i++)
            {
                cos[s + i] = VectorMath.Cosine(batch[i].A.Embedding, batch[i].B.Embedding);
                xc[s + i] = r[i].Xcos;
            }
        }
        return [xc, cos];
    }
}
