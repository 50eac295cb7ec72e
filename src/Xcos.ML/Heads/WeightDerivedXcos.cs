using System.Buffers.Binary;
using System.Numerics.Tensors;

namespace Xcos.ML.Heads;

/// <summary>How the weight-derived xCos weighs its cells.</summary>
public enum WeightDerivedAttention
{
    /// <summary>Each cell's share of the head's energy <c>||P K_c||_F^2</c> (fixed by the weights, same for every pair).</summary>
    Kernel,
    /// <summary>Per pair: <c>|u1_c| |u2_c|</c> normalised over cells (cells that carry signal in both faces).</summary>
    Pair,
    /// <summary>
    /// Per pair, from the exact contributions: each cell's contribution energy <c>w_c = (|u1_c| |e2| + |u2_c| |e1|) / (2 |e1| |e2|)</c>
    /// normalised over cells, and the map the cell's cosine with the other face's embedding,
    /// <c>(u1_c.e2 + u2_c.e1) / (|u1_c| |e2| + |u2_c| |e1|)</c> = contribution / w_c, so sum(att * map) is the cosine's
    /// cell part over sum w. No centring.
    /// </summary>
    Contribution,
}

/// <summary>How <see cref="WeightDerivedXcos"/> weighs and centres the cells.</summary>
public sealed class WeightDerivedXcosOptions
{
    /// <summary>Where the cell weights come from (default <see cref="WeightDerivedAttention.Kernel"/>: the head's own per-cell kernel norms).</summary>
    public WeightDerivedAttention Attention { get; set; } = WeightDerivedAttention.Kernel;

    /// <summary>Centre each cell's features on the calibration mean before its cosine (default true; needs means).</summary>
    public bool Centre { get; set; } = true;

    /// <summary>
    /// Slope a of the affine calibration of the cell cosines, <c>map_c = a * cos_c + b</c> (default 1: none). The attention
    /// sums to 1, so xCos = sum(att * map) = a * xCos_uncalibrated + b exactly and, with a &gt; 0, ranks pairs the same.
    /// </summary>
    public double Scale { get; set; } = 1;

    /// <summary>Offset b of the affine calibration (default 0).</summary>
    public double Offset { get; set; }

    /// <summary>
    /// Shift every cell of the (calibrated) map by the pair's residual <c>cosine - sum(att * map)</c>, so xCos equals the
    /// model's cosine (of the rebuilt embeddings) exactly and the identity xCos = sum(att * map) still holds, because
    /// the attention sums to 1. The map keeps its per-cell differences; the shift is reported (default false).
    /// </summary>
    public bool MatchCosine { get; set; }

    /// <summary>Whether an affine calibration other than the identity is set.</summary>
    public bool IsCalibrated => Scale != 1 || Offset != 0;

    /// <summary>Names the variant for reports, e.g. "weights/kernel/raw/affine(a=4.1,b=-3.2)".</summary>
    public string Describe() =>
        $"weights/{Attention.ToString().ToLowerInvariant()}/{(Centre ? "centred" : "raw")}"
        + (IsCalibrated ? FormattableString.Invariant($"/affine(a={Scale:G6},b={Offset:G6})") : "")
        + (MatchCosine ? "/matched" : "");
}

/// <summary>A weight-derived xCos explanation of one pair, next to the model's own cosine.</summary>
/// <param name="Xcos">sum_c CosMap[c] * Attention[c].</param>
/// <param name="Cosine">Cosine of the rebuilt embeddings (equal to the model's embedding cosine up to float rounding).</param>
/// <param name="CosMap">Per-cell cosines of the cell features (centred if requested), after the affine calibration if one is set; row-major H x W.</param>
/// <param name="Attention">Per-cell weights, summing to 1.</param>
/// <param name="Contributions">Exact additive view: <c>(u1_c.e2 + u2_c.e1) / (2 |e1| |e2|)</c>; with <paramref name="BiasContribution"/> they sum to <paramref name="Cosine"/>.</param>
/// <param name="BiasContribution"><c>b.(e1 + e2) / (2 |e1| |e2|)</c>, the part of the cosine owed to the head's constant term.</param>
public sealed record WeightDerivedExplanation(double Xcos, double Cosine, float[] CosMap, float[] Attention, float[] Contributions, double BiasContribution)
{
    /// <summary>Which explanation produced <see cref="Xcos"/>, <see cref="CosMap"/> and <see cref="Attention"/> (<see cref="WeightDerivedXcosOptions.Describe"/>, or "learned...").</summary>
    public string Variant { get; init; } = "";

    /// <summary>The per-pair shift added to every cell by <see cref="WeightDerivedXcosOptions.MatchCosine"/> (0 without it).</summary>
    public double Shift { get; init; }
}

/// <summary>
/// xCos computed from the weights of an affine embedding head (<see cref="WeightDerivedHead"/>) instead of a trained
/// xCos module: cell features <c>u_c = P K_c g_c</c>, cell cosines <c>cos(u1_c - mu_c, u2_c - mu_c)</c>, attention, and the
/// exact per-cell decomposition of the embedding cosine.
/// </summary>
public sealed class WeightDerivedXcos
{
    private readonly float[]? _means;
    private readonly float[] _kernelAttention;

    /// <summary>An explainer over <paramref name="head"/>; with centring it needs the calibration means.</summary>
    /// <param name="head">The folded head.</param>
    /// <param name="cellMeans">Calibration means mu_c (Cells x Dim), or null (then <see cref="WeightDerivedXcosOptions.Centre"/> must be false).</param>
    /// <param name="options">Attention and centring.</param>
    public WeightDerivedXcos(WeightDerivedHead head, float[]? cellMeans, WeightDerivedXcosOptions? options = null)
    {
        Head = head ?? throw new ArgumentNullException(nameof(head));
        Options = options ?? new WeightDerivedXcosOptions();
        if (cellMeans is not null && cellMeans.Length != head.Cells * head.Dim)
            throw new ArgumentException($"cell means hold {cellMeans.Length} values; the head needs {head.Cells}x{head.Dim}", nameof(cellMeans));
        if (Options.Centre && Options.Attention == WeightDerivedAttention.Contribution)
            throw new ArgumentException("contribution attention compares each cell with the other embedding and does not centre; set Centre = false", nameof(options));
        if (Options.Centre && cellMeans is null) throw new ArgumentException("centring needs calibration means (cellMeans)", nameof(cellMeans));
        if (!(Options.Scale > 0) || !double.IsFinite(Options.Scale) || !double.IsFinite(Options.Offset))
            throw new ArgumentException($"the affine calibration needs a finite slope > 0 (keeps the ranking) and a finite offset, got a={Options.Scale}, b={Options.Offset}", nameof(options));
        _means = cellMeans;
        _kernelAttention = head.KernelEnergy();
    }

    /// <summary>The folded affine head the cell features and weights come from.</summary>
    public WeightDerivedHead Head { get; }
    /// <summary>Attention source and centring in effect.</summary>
    public WeightDerivedXcosOptions Options { get; }
    /// <summary>The calibration means mu_c (Cells x Dim) it centres on, or null.</summary>
    public ReadOnlySpan<float> CellMeans => _means;

    /// <summary>Explains a pair from its feature maps (CHW).</summary>
    public WeightDerivedExplanation Explain(ReadOnlySpan<float> map1, ReadOnlySpan<float> map2) =>
        ExplainCells(Head.CellFeatures(map1), Head.CellFeatures(map2));

    /// <summary>Explains a pair from precomputed cell features (<see cref="WeightDerivedHead.CellFeatures"/>).</summary>
    /// <exception cref="ArgumentException">A feature vector of the wrong length.</exception>
    public WeightDerivedExplanation ExplainCells(float[] u1, float[] u2) => ExplainCellsMany(u1, [u2])[0];

    /// <summary>
    /// Explains one probe against each of <paramref name="others"/> (cell features, in order), as
    /// <see cref="ExplainCells"/> does pair by pair, in one call: the probe's embedding, centred cells and norms are
    /// worked out once for the whole shortlist instead of once per candidate (a gallery re-ranks 100 per probe).
    /// </summary>
    /// <exception cref="ArgumentException">A feature vector of the wrong length.</exception>
    public WeightDerivedExplanation[] ExplainCellsMany(float[] probe, IReadOnlyList<float[]> others)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(others);
        int cells = Head.Cells, dim = Head.Dim;
        if (probe.Length != cells * dim || others.Any(o => o is null || o.Length != cells * dim))
            throw new ArgumentException($"cell features must hold {cells}x{dim} values, got {probe.Length} for the probe and {string.Join(", ", others.Select(o => o?.Length ?? 0).Distinct())} for the others");
        bool centre = Options.Centre && _means is not null;
        // the probe's side of every pair
        var e1 = Head.Embedding(probe);
        double n1 = Math.Sqrt(Dot(e1, e1));
        var a = centre ? new float[cells * dim] : probe;
        var na = new double[cells];
        var m1 = new double[cells];
        for (int c = 0; c < cells; c++)
        {
            var r1 = probe.AsSpan(c * dim, dim);
            if (centre) TensorPrimitives.Subtract(r1, _means.AsSpan(c * dim, dim), a.AsSpan(c * dim, dim));
            var ac = a.AsSpan(c * dim, dim);
            na[c] = Math.Sqrt(Dot(ac, ac));
            m1[c] = Math.Sqrt(Dot(r1, r1));
        }
        var bias = Head.Bias;
        double biasE1 = Dot(bias, e1);
        var b = new float[dim];
        var result = new WeightDerivedExplanation[others.Count];
        string variant = Options.Describe();
        for (int k = 0; k < others.Count; k++)
        {
            var u2 = others[k];
            var e2 = Head.Embedding(u2);
            double n2 = Math.Sqrt(Dot(e2, e2)), nn = n1 * n2;
            var cos = new float[cells];
            var contrib = new float[cells];
            var att = new float[cells];
            for (int c = 0; c < cells; c++)
            {
                var r1 = probe.AsSpan(c * dim, dim);
                var r2 = u2.AsSpan(c * dim, dim);
                double cellPart = (Dot(r1, e2) + Dot(r2, e1)) / (2 * nn);
                contrib[c] = (float)cellPart;
                if (centre) TensorPrimitives.Subtract(r2, _means.AsSpan(c * dim, dim), b);
                else r2.CopyTo(b);
                double nb = Math.Sqrt(Dot(b, b));
                double cc = na[c] == 0 || nb == 0 ? 0 : Dot(a.AsSpan(c * dim, dim), b) / (na[c] * nb);
                double m2 = Math.Sqrt(Dot(r2, r2));
                if (Options.Attention == WeightDerivedAttention.Contribution)
                {
                    double w = (m1[c] * n2 + m2 * n1) / (2 * nn);
                    cc = w == 0 ? 0 : cellPart / w;
                    att[c] = (float)w;
                }
                else att[c] = Options.Attention == WeightDerivedAttention.Kernel ? _kernelAttention[c] : (float)(m1[c] * m2);
                cos[c] = (float)(Options.Scale * cc + Options.Offset);
            }
            double total = att.Sum(x => (double)x);
            for (int c = 0; c < cells; c++) att[c] = total > 0 ? (float)(att[c] / total) : 1f / cells;
            double xcos = 0;
            for (int c = 0; c < cells; c++) xcos += (double)cos[c] * att[c];
            double cosine = Dot(e1, e2) / nn, shift = 0;
            if (Options.MatchCosine)
            {
                shift = cosine - xcos;
                xcos = 0;
                for (int c = 0; c < cells; c++) { cos[c] = (float)(cos[c] + shift); xcos += (double)cos[c] * att[c]; }
            }
            double biasTerm = (biasE1 + Dot(bias, e2)) / (2 * nn);
            result[k] = new WeightDerivedExplanation(xcos, cosine, cos, att, contrib, biasTerm) { Variant = variant, Shift = shift };
        }
        return result;
    }

    // SIMD float dot products: a gallery re-ranks 100 candidates per probe, and the scalar double loop cost ~10x more
    // for a relative difference near 1e-7 on 512-d rows
    private static double Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y) => TensorPrimitives.Dot(x, y);
}

/// <summary>
/// Calibration means mu_c of the cell features, stored small: magic "XCOSCAL1", int32 cells, int32 dim (little-endian),
/// then cells x dim IEEE half floats.
/// </summary>
public static class CellMeansFile
{
    private static readonly byte[] Magic = "XCOSCAL1"u8.ToArray();

    /// <summary>Writes means (cells x dim) as float16.</summary>
    public static void Write(string path, float[] means, int cells, int dim)
    {
        if (means.Length != cells * dim) throw new ArgumentException($"{means.Length} values do not make {cells}x{dim}");
        var bytes = new byte[16 + 2 * means.Length];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), cells);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), dim);
        for (int i = 0; i < means.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(16 + 2 * i), (Half)means[i]);
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>Reads means; checks the header and, when given, the expected cells and dim.</summary>
    /// <exception cref="InvalidDataException">Wrong magic, truncated file or other sizes than expected; names the file.</exception>
    public static (float[] Means, int Cells, int Dim) Read(string path, int? expectCells = null, int? expectDim = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"calibration file not found: {path}", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 16 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a cell-means file (expected the magic XCOSCAL1 and a 16-byte header)");
        int cells = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)), dim = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (cells <= 0 || dim <= 0 || bytes.Length != 16 + 2L * cells * dim)
            throw new InvalidDataException($"{path}: header says {cells}x{dim} half floats ({16 + 2L * cells * dim} bytes), file has {bytes.Length} bytes");
        if ((expectCells is { } ec && ec != cells) || (expectDim is { } ed && ed != dim))
            throw new InvalidDataException($"{path}: means are {cells}x{dim}, the model's head needs {expectCells}x{expectDim}");
        var m = new float[cells * dim];
        for (int i = 0; i < m.Length; i++) m[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(16 + 2 * i));
        return (m, cells, dim);
    }
}
