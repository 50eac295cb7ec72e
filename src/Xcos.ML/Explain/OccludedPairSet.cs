using Xcos.ML.Images;

namespace Xcos.ML.Explain;

/// <summary>
/// Verification pairs of aligned faces of labelled people where face 2 carries an occluder: every same-person pair
/// (up to half of <c>pairs</c>) and as many different-person pairs, drawn with a fixed seed; for each occluder of
/// <see cref="FaceOccluders.All"/> face 2 of every pair is drawn once with its own seeded generator, so two runs
/// score the same images.
/// </summary>
public sealed class OccludedPairSet
{
    private OccludedPairSet(string name, IReadOnlyList<RgbImage> faces, (int A, int B, bool Same)[] pairs, Dictionary<FaceOccluder, RgbImage[]> second)
    {
        Name = name;
        Faces = faces;
        Pairs = pairs;
        Second = second;
    }

    /// <summary>Name used in logs ("settings", "dev-faces").</summary>
    public string Name { get; }

    /// <summary>The clean faces.</summary>
    public IReadOnlyList<RgbImage> Faces { get; }

    /// <summary>Pairs: indices into <see cref="Faces"/> and whether they show one person.</summary>
    public IReadOnlyList<(int A, int B, bool Same)> Pairs { get; }

    /// <summary>Face 2 of every pair with each occluder (None: the clean face).</summary>
    public IReadOnlyDictionary<FaceOccluder, RgbImage[]> Second { get; }

    /// <summary>The same-pair flags in pair order.</summary>
    public bool[] Same => Pairs.Select(p => p.Same).ToArray();

    /// <summary>Builds the set.</summary>
    /// <param name="name">Name for logs.</param>
    /// <param name="faces">Aligned faces.</param>
    /// <param name="labels">Person of each face.</param>
    /// <param name="pairs">Pairs wanted (half same, half different; fewer when there are fewer same pairs).</param>
    /// <param name="seed">Seed of the draw and of the occluders.</param>
    /// <exception cref="ArgumentException">Fewer than two people, or no two faces of one person.</exception>
    public static OccludedPairSet Build(string name, IReadOnlyList<RgbImage> faces, IReadOnlyList<int> labels, int pairs, int seed)
    {
        ArgumentNullException.ThrowIfNull(faces);
        ArgumentNullException.ThrowIfNull(labels);
        if (faces.Count != labels.Count) throw new ArgumentException($"{faces.Count} faces but {labels.Count} labels");
        if (labels.Distinct().Count() < 2) throw new ArgumentException($"{name}: pairs need at least two people");
        var rng = new Random(seed);
        var same = new List<(int, int, bool)>();
        for (int i = 0; i < faces.Count; i++)
            for (int j = i + 1; j < faces.Count; j++)
                if (labels[i] == labels[j]) same.Add((i, j, true));
        if (same.Count == 0) throw new ArgumentException($"{name}: no person has two faces");
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(same));
        int half = Math.Min(pairs / 2, same.Count);
        var list = same.Take(half).ToList();
        var seen = new HashSet<(int, int)>();
        while (list.Count < 2 * half)
        {
            int a = rng.Next(faces.Count), b = rng.Next(faces.Count);
            if (labels[a] != labels[b] && seen.Add((a, b))) list.Add((a, b, false));
        }
        var second = new Dictionary<FaceOccluder, RgbImage[]>();
        foreach (var kind in FaceOccluders.All)
        {
            var r = new Random(seed * 31 + (int)kind + 1);
            second[kind] = list.Select(p => FaceOccluders.Apply(faces[p.Item2], kind, r)).ToArray();
        }
        return new OccludedPairSet(name, faces, list.ToArray(), second);
    }
}
