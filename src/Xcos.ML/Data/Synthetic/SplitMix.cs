namespace Xcos.ML.Data.Synthetic;

/// <summary>
/// SplitMix64 generator. Used instead of <see cref="System.Random"/> so that a seed gives the same
/// stream on every runtime version, and so that each identity/image gets its own independent stream
/// (an image can be regenerated alone, and generation can run in parallel without changing output).
/// </summary>
internal sealed class SplitMix
{
    private ulong _state;

    public SplitMix(ulong seed) => _state = seed;

    /// <summary>Derives a stream for a (seed, a, b) key; the mixing makes nearby keys unrelated.</summary>
    public static SplitMix For(int seed, int a, int b = 0)
    {
        var s = new SplitMix(((ulong)(uint)seed << 32) ^ 0x9E3779B97F4A7C15UL);
        ulong k = s.NextULong() ^ ((ulong)(uint)a * 0xBF58476D1CE4E5B9UL);
        var t = new SplitMix(k);
        ulong k2 = t.NextULong() ^ ((ulong)(uint)b * 0x94D049BB133111EBUL);
        return new SplitMix(k2);
    }

    public ulong NextULong()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [lo, hi).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>Uniform integer in [0, n).</summary>
    public int Next(int n) => (int)(NextDouble() * n);

    public bool Chance(double p) => NextDouble() < p;

    /// <summary>Standard normal (Box-Muller; the second value is discarded to keep the stream simple).</summary>
    public double Gaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
