namespace Xcos.ML.Data;

/// <summary>A pair drawn for training: two sample indices and whether they share an identity.</summary>
public readonly record struct SampledPair(int First, int Second, bool Same);

/// <summary>How <see cref="PairSampler"/> draws partners: its seed, and whether a sample may be its own partner.</summary>
internal sealed class PairSamplerOptions
{
    /// <summary>Seed of the <see cref="System.Random"/> that draws the pairs. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>What a same-identity draw does for an identity with a single image. Default false: such
    /// identities are an error at construction (the original loops forever); true pairs the image with itself.</summary>
    public bool AllowSelfPairs { get; set; }
}

/// <summary>Training pairs as the original xCos <c>SiameseImageFolder</c> draws them: for each image a fair coin
/// chooses same or different; "same" takes a uniformly drawn other image of its identity, "different" a uniformly
/// drawn other identity and then a uniformly drawn image of it. Deterministic for a seed.</summary>
internal sealed class PairSampler
{
    private readonly int[] _labels;
    private readonly Dictionary<int, int[]> _byLabel;
    private readonly int[] _labelSet;
    private readonly Dictionary<int, int> _labelPosition;
    private readonly Dictionary<int, int> _positionInLabel;
    private readonly bool _allowSelf;
    private readonly Random _random;

    /// <summary>Sampler over the images of an <see cref="ImageFolder"/>.</summary>
    public PairSampler(ImageFolder folder, PairSamplerOptions? options = null) : this(folder.Labels, options) { }

    /// <summary>Sampler over samples with the given identity labels.</summary>
    /// <exception cref="ArgumentException">Fewer than two identities, or a single-image identity without <see cref="PairSamplerOptions.AllowSelfPairs"/>.</exception>
    public PairSampler(IReadOnlyList<int> labels, PairSamplerOptions? options = null)
    {
        options ??= new PairSamplerOptions();
        _labels = labels.ToArray();
        _allowSelf = options.AllowSelfPairs;
        _random = new Random(options.Seed);
        _byLabel = Enumerable.Range(0, _labels.Length).GroupBy(i => _labels[i]).ToDictionary(g => g.Key, g => g.ToArray());
        _labelSet = _byLabel.Keys.Order().ToArray();
        if (_labelSet.Length < 2)
            throw new ArgumentException($"pair sampling needs at least two identities, found {_labelSet.Length}.");
        _labelPosition = _labelSet.Select((l, i) => (l, i)).ToDictionary(t => t.l, t => t.i);
        _positionInLabel = new Dictionary<int, int>(_labels.Length);
        foreach (var (_, members) in _byLabel)
            for (int j = 0; j < members.Length; j++) _positionInLabel[members[j]] = j;
        if (!_allowSelf)
        {
            var single = _labelSet.Where(l => _byLabel[l].Length == 1).ToArray();
            if (single.Length > 0)
                throw new ArgumentException(
                    $"{single.Length} identit{(single.Length == 1 ? "y has" : "ies have")} a single image (label{(single.Length == 1 ? "" : "s")} {string.Join(", ", single.Take(10))}{(single.Length > 10 ? ", ..." : "")}); " +
                    "a same-identity pair needs two. Set PairSamplerOptions.AllowSelfPairs to pair such an image with itself.");
        }
    }

    /// <summary>Samples the partners are drawn from.</summary>
    public int Count => _labels.Length;

    /// <summary>Draws the partner of sample <paramref name="index"/>.</summary>
    public SampledPair Sample(int index)
    {
        if ((uint)index >= (uint)_labels.Length) throw new ArgumentOutOfRangeException(nameof(index), index, $"sample index must be below {_labels.Length}.");
        int label = _labels[index];
        if (_random.Next(2) == 1)
        {
            int[] members = _byLabel[label];
            if (members.Length == 1) return new SampledPair(index, index, true);
            // Uniform over the other members: draw among n-1 and step over the image itself.
            int j = _random.Next(members.Length - 1);
            if (j >= _positionInLabel[index]) j++;
            return new SampledPair(index, members[j], true);
        }
        int k = _random.Next(_labelSet.Length - 1);
        if (k >= _labelPosition[label]) k++;
        int[] other = _byLabel[_labelSet[k]];
        return new SampledPair(index, other[_random.Next(other.Length)], false);
    }

    /// <summary>One pair per sample, in sample order (one training epoch without shuffling).</summary>
    public SampledPair[] SampleEpoch()
    {
        var pairs = new SampledPair[_labels.Length];
        for (int i = 0; i < pairs.Length; i++) pairs[i] = Sample(i);
        return pairs;
    }
}
