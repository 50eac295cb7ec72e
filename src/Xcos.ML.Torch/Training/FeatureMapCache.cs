using TorchSharp;
using TorchSharp.Modules;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Networks;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// Feature maps and embeddings of a set of images computed once by an <see cref="IFeatureMapSource"/>, optionally
/// also of the mirrored images (variant 1) for flip augmentation. About 100 KB per image and variant for 512x7x7 maps.
/// </summary>
public sealed class FeatureMapCache
{
    private FeatureMapCache(int count, int variants, int channels, int mapSize, int embeddingSize, float[] maps, float[] embeddings)
    {
        Count = count; Variants = variants; Channels = channels; MapSize = mapSize; EmbeddingSize = embeddingSize;
        Maps = maps; Embeddings = embeddings;
    }

    /// <summary>Images whose maps are cached.</summary>
    public int Count { get; }
    /// <summary>1 (as is) or 2 (as is, mirrored).</summary>
    public int Variants { get; }
    /// <summary>Channels of each cached feature map.</summary>
    public int Channels { get; }
    /// <summary>Side of each cached feature map in cells (7 for 112x112 faces).</summary>
    public int MapSize { get; }
    /// <summary>Length of each cached embedding.</summary>
    public int EmbeddingSize { get; }
    /// <summary>Floats of one map.</summary>
    public int MapFloats => Channels * MapSize * MapSize;
    /// <summary>All maps, [Count, Variants, C, H, W].</summary>
    public float[] Maps { get; }
    /// <summary>All embeddings, [Count, Variants, E].</summary>
    public float[] Embeddings { get; }

    /// <summary>Map of one image variant.</summary>
    public ReadOnlySpan<float> Map(int image, int variant) => Maps.AsSpan((image * Variants + variant) * MapFloats, MapFloats);
    /// <summary>Embedding of one image variant.</summary>
    public ReadOnlySpan<float> Embedding(int image, int variant) => Embeddings.AsSpan((image * Variants + variant) * EmbeddingSize, EmbeddingSize);

    /// <summary>
    /// Decodes every image (prefetched on a worker thread) and runs the source on batches.
    /// </summary>
    /// <exception cref="InvalidDataException">An image cannot be read (the message names the file).</exception>
    public static FeatureMapCache Build(IFeatureMapSource source, IReadOnlyList<string> paths, FaceImageLoader loader,
        bool flipped = true, int batchSize = 64, Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        int variants = flipped ? 2 : 1, f = loader.Options.ImageFloats;
        int mapFloats = source.Channels * source.MapSize * source.MapSize, e = source.EmbeddingSize;
        var maps = new float[(long)paths.Count * variants * mapFloats];
        var embs = new float[(long)paths.Count * variants * e];
        int chunks = (paths.Count + batchSize - 1) / batchSize;
        var prefetch = new PrefetchLoader<(int Start, int N, float[] Data)>(chunks, (c, ct) =>
        {
            int start = c * batchSize, n = Math.Min(batchSize, paths.Count - start);
            var data = new float[n * variants * f];
            for (int k = 0; k < n; k++)
                for (int v = 0; v < variants; v++)
                {
                    ct.ThrowIfCancellationRequested();
                    loader.Load(paths[start + k], data.AsSpan((k * variants + v) * f, f), flip: v == 1);
                }
            return (start, n, data);
        });
        foreach (var (start, n, data) in prefetch.Read(0, cancellationToken))
        {
            // rows are (image, variant) in order, as the cache stores them
            source.Compute(data, n * variants,
                maps.AsSpan(start * variants * mapFloats, n * variants * mapFloats),
                embs.AsSpan(start * variants * e, n * variants * e));
            progress?.Invoke(start + n, paths.Count);
        }
        return new FeatureMapCache(paths.Count, variants, source.Channels, source.MapSize, e, maps, embs);
    }
}
