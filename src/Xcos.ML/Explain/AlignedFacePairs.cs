using Xcos.ML.Data;
using Xcos.ML.Images;

namespace Xcos.ML.Explain;

/// <summary>
/// Aligned face pairs read from a pair file (InsightFace .bin, LFW pairs.txt or pair TSV) with their labels: what the
/// faithfulness and occlusion measurements of a checkpoint perturb. Every image must already be an aligned face.
/// </summary>
/// <param name="Source">The pair file.</param>
/// <param name="Faces">The two faces of each pair.</param>
/// <param name="Labels">True where the pair is marked same.</param>
internal sealed record AlignedFacePairs(string Source, IReadOnlyList<(RgbImage Face1, RgbImage Face2)> Faces, IReadOnlyList<bool> Labels)
{
    /// <summary>Number of pairs.</summary>
    public int Count => Faces.Count;

    /// <summary>Reads the first <paramref name="maxPairs"/> pairs of <paramref name="pairFile"/>.</summary>
    /// <param name="pairFile">The pair file; its format is told by content.</param>
    /// <param name="root">Folder the file's image paths are relative to; null: the pair file's folder.</param>
    /// <param name="maxPairs">Pairs to read at most.</param>
    /// <param name="side">Side of the aligned faces every image must have.</param>
    /// <exception cref="InvalidDataException">An image is not <paramref name="side"/> x <paramref name="side"/> (pair and image named).</exception>
    public static AlignedFacePairs Load(string pairFile, string? root = null, int maxPairs = int.MaxValue, int side = 112)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPairs, 1);
        var set = PairSetReader.Load(pairFile, root);
        int n = Math.Min(set.Count, maxPairs);
        var faces = new (RgbImage, RgbImage)[n];
        for (int i = 0; i < n; i++)
        {
            var (b1, b2) = set.ReadPair(i);
            faces[i] = (Aligned(set, i, set.Pairs[i].Id1, b1, side), Aligned(set, i, set.Pairs[i].Id2, b2, side));
        }
        return new AlignedFacePairs(set.Source, faces, set.Labels.Take(n).ToArray());
    }

    private static RgbImage Aligned(PairSet set, int pair, string id, byte[] bytes, int side)
    {
        var img = ImageIO.Load(bytes, name: id);
        if (img.Width != side || img.Height != side)
            throw new InvalidDataException($"{set.Source}: row {set.RowOf(pair)}, image '{id}' is {img.Width}x{img.Height}; aligned {side}x{side} faces expected.");
        return img;
    }
}
