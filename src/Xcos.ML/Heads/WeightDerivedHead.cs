using System.Numerics.Tensors;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.Heads;

/// <summary>
/// The affine map from a face network's last spatial feature map g (C x H x W) to its embedding e, read from the
/// ONNX weights and folded into per-cell linear maps: <c>e = sum_c P (K_c g_c) + b</c>, where g_c is the C-vector at
/// cell c, K_c the reduction's kernel at that cell (diagonal for a global depthwise convolution, dense for a full
/// convolution or a flatten + fully-connected layer) and P the product of every linear layer after the reduction.
/// Per-cell features are <c>u_c = P K_c g_c</c>, so <c>e = sum_c u_c + b</c> exactly.
/// </summary>
/// <remarks>
/// Folded ops. Before the reduction, on the map: BatchNormalization, Add/Sub/Mul/Div by a per-channel or scalar
/// constant, Dropout, Identity. Reduction: Conv whose kernel covers the whole map (no padding; group 1 or depthwise),
/// or Flatten/Reshape then Gemm/MatMul. After it: Conv 1x1, Gemm, MatMul, BatchNormalization, Add/Sub/Mul/Div by a
/// constant, Flatten, Reshape, Squeeze, Unsqueeze, Dropout, Identity. Anything else (ReLU, PReLU, normalisation by
/// the vector's norm, ...) is not affine and is refused with the op's name.
/// </remarks>
public sealed class WeightDerivedHead
{
    private readonly float[] _p;      // Dim x R, row-major
    private readonly float[] _k;      // diagonal: Cells x C; dense: Cells x R x C
    private readonly float[] _bias;   // Dim
    private float[]? _kernelEnergy;

    private WeightDerivedHead(string map, string embedding, int c, int h, int w, int r, int dim, bool diagonal, float[] p, float[] k, float[] bias, IReadOnlyList<string> ops)
    {
        MapName = map; EmbeddingName = embedding; Channels = c; Height = h; Width = w; ReducedDim = r; Dim = dim;
        Diagonal = diagonal; _p = p; _k = k; _bias = bias; FoldedOps = ops;
    }

    /// <summary>ONNX value name of the last spatial feature map, where the head starts.</summary>
    public string MapName { get; }
    /// <summary>ONNX value name of the embedding, where the head ends.</summary>
    public string EmbeddingName { get; }
    /// <summary>Channels of the map.</summary>
    public int Channels { get; }
    /// <summary>Feature-map height in cells (7 for a 112x112 face).</summary>
    public int Height { get; }
    /// <summary>Feature-map width in cells (7 for a 112x112 face).</summary>
    public int Width { get; }
    /// <summary>Number of cells (H x W).</summary>
    public int Cells => Height * Width;
    /// <summary>Width of the reduction's output (before the layers P).</summary>
    public int ReducedDim { get; }
    /// <summary>Length of the embedding the head produces (512 for fr_feature).</summary>
    public int Dim { get; }
    /// <summary>Whether the reduction was depthwise (K_c diagonal).</summary>
    public bool Diagonal { get; }
    /// <summary>The embedding's constant term b.</summary>
    public ReadOnlySpan<float> Bias => _bias;
    /// <summary>P, Dim x ReducedDim row-major (for graph export).</summary>
    internal ReadOnlySpan<float> Projection => _p;
    /// <summary>K: Cells x Channels when <see cref="Diagonal"/>, else Cells x ReducedDim x Channels (for graph export).</summary>
    internal ReadOnlySpan<float> Kernel => _k;
    /// <summary>The ops folded, in order, as "OpType(node output)".</summary>
    public IReadOnlyList<string> FoldedOps { get; }

    /// <summary>
    /// Reads the head after <paramref name="mapName"/> up to <paramref name="embeddingName"/> (default: the first
    /// graph output). The map's shape must be known (value_info) or is found by one ONNX Runtime run.
    /// </summary>
    /// <exception cref="NotSupportedException">The head contains an op that is not affine or not folded (named).</exception>
    /// <exception cref="InvalidDataException">Shapes or constants do not fit.</exception>
    public static WeightDerivedHead Extract(OnnxModelFile model, string mapName, string? embeddingName = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        embeddingName ??= model.OutputNames[0];
        var mapInfo = model.ListValues().FirstOrDefault(v => v.Name == mapName)
            ?? throw new ArgumentException($"{model.Source}: no value named '{mapName}'", nameof(mapName));
        long[]? shape = mapInfo.Shape;
        if (shape is null || shape.Length != 4 || shape.Skip(1).Any(d => d <= 0))
        {
            var shapes = model.RunShapes();
            shape = shapes.TryGetValue(mapName, out var s) ? s.Shape : null;
        }
        if (shape is not { Length: 4 }) throw new InvalidDataException($"{model.Source}: feature map '{mapName}' is not 4-D");
        return new Folder(model, mapName, embeddingName, (int)shape[1], (int)shape[2], (int)shape[3]).Run(mapInfo.NodeIndex);
    }

    /// <summary>Per-cell features u_c (Cells x Dim, row per cell) of one CHW map.</summary>
    public float[] CellFeatures(ReadOnlySpan<float> map)
    {
        int c = Channels, hw = Cells, r = ReducedDim;
        if (map.Length != c * hw) throw new ArgumentException($"feature map has {map.Length} values, expected {c}x{Height}x{Width} = {c * hw}", nameof(map));
        var u = new float[hw * Dim];
        var g = new float[c];
        var v = new float[r];
        for (int cell = 0; cell < hw; cell++)
        {
            for (int ch = 0; ch < c; ch++) g[ch] = map[ch * hw + cell];
            if (Diagonal) TensorPrimitives.Multiply(g, _k.AsSpan(cell * c, c), v);
            else for (int o = 0; o < r; o++) v[o] = TensorPrimitives.Dot(_k.AsSpan((cell * r + o) * c, c), g);
            var row = u.AsSpan(cell * Dim, Dim);
            for (int o = 0; o < Dim; o++) row[o] = TensorPrimitives.Dot(_p.AsSpan(o * r, r), v);
        }
        return u;
    }

    /// <summary>The embedding rebuilt from cell features: <c>sum_c u_c + b</c>.</summary>
    public float[] Embedding(ReadOnlySpan<float> cellFeatures)
    {
        if (cellFeatures.Length != Cells * Dim) throw new ArgumentException($"expected {Cells}x{Dim} cell features, got {cellFeatures.Length}");
        // SIMD row sums in float: called twice per explained pair (galleries re-rank many pairs per probe)
        var res = _bias.ToArray();
        for (int cell = 0; cell < Cells; cell++) TensorPrimitives.Add(res, cellFeatures.Slice(cell * Dim, Dim), res);
        return res;
    }

    /// <summary>
    /// Each cell's share of the head's energy, <c>||P K_c||_F^2 / sum_c' ||P K_c'||_F^2</c>: how strongly the weights let
    /// that cell move the embedding, independent of any input. Cached after the first call.
    /// </summary>
    public float[] KernelEnergy()
    {
        if (_kernelEnergy is not null) return (float[])_kernelEnergy.Clone();
        int r = ReducedDim, c = Channels;
        var energy = new double[Cells];
        if (Diagonal)
        {
            // ||P diag(d_c)||_F^2 = sum_j ||P[:, j]||^2 d_cj^2.
            var col = new double[r];
            for (int o = 0; o < Dim; o++)
                for (int j = 0; j < r; j++) col[j] += (double)_p[o * r + j] * _p[o * r + j];
            for (int cell = 0; cell < Cells; cell++)
                for (int j = 0; j < c; j++) energy[cell] += col[j] * _k[cell * c + j] * _k[cell * c + j];
        }
        else
        {
            // ||P K_c||_F^2 = sum_ch ||P K_c[:, ch]||^2 with G = P^T P: k^T G k per column.
            var gram = new float[r * r];
            var pt = Transpose(_p, Dim, r);
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) gram[i * r + j] = TensorPrimitives.Dot(pt.AsSpan(i * Dim, Dim), pt.AsSpan(j * Dim, Dim));
            var kcol = new float[r];
            var gk = new float[r];
            for (int cell = 0; cell < Cells; cell++)
                for (int ch = 0; ch < c; ch++)
                {
                    for (int o = 0; o < r; o++) kcol[o] = _k[(cell * r + o) * c + ch];
                    for (int i = 0; i < r; i++) gk[i] = TensorPrimitives.Dot(gram.AsSpan(i * r, r), kcol);
                    energy[cell] += TensorPrimitives.Dot(gk, kcol);
                }
        }
        double total = energy.Sum();
        _kernelEnergy = energy.Select(x => (float)(x / total)).ToArray();
        return (float[])_kernelEnergy.Clone();
    }

    private static float[] Transpose(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
        return t;
    }

    /// <summary>Walks the head node by node, keeping the affine map in factored form.</summary>
    private sealed class Folder(OnnxModelFile model, string map, string embedding, int c, int h, int w)
    {
        private readonly List<string> _ops = [];
        private string _current = "";   // set from map in Run: map itself stays a captured parameter (CS9124)
        // Stage 0: per-channel affine on the map (s, t); stage 1: flattened map awaiting Gemm/MatMul; stage 2: vector.
        private int _stage;
        private double[] _s = Enumerable.Repeat(1.0, c).ToArray(), _t = new double[c];
        private bool _diagonal;
        private float[] _k = [];
        private int _r, _dim;
        private double[] _p = [];   // dim x r
        private double[] _b = [];   // dim
        private int Hw => h * w;

        public WeightDerivedHead Run(int mapNode)
        {
            var g = model.Graph;
            _current = map;
            for (int i = mapNode + 1; i < g.Node.Count && _current != embedding; i++)
            {
                var node = g.Node[i];
                if (!node.Input.Contains(_current)) continue;
                if (node.OpType == "Shape") continue;  // only feeds Reshape's target shape
                int consumers = g.Node.Count(n => n.OpType != "Shape" && n.Input.Contains(_current));
                if (consumers > 1) throw new NotSupportedException($"{model.Source}: value '{_current}' feeds {consumers} nodes; the head must be a chain");
                Fold(node);
                _ops.Add($"{node.OpType}({node.Output[0]})");
                _current = node.Output[0];
            }
            if (_current != embedding) throw new InvalidDataException($"{model.Source}: no chain of nodes leads from '{map}' to '{embedding}'");
            if (_stage != 2) throw new NotSupportedException($"{model.Source}: the head from '{map}' never reduces the map to a vector");
            return new WeightDerivedHead(map, embedding, c, h, w, _r, _dim, _diagonal,
                _p.Select(x => (float)x).ToArray(), _k, _b.Select(x => (float)x).ToArray(), _ops);
        }

        private (float[] Data, long[] Shape) Const(string name, NodeProto node)
        {
            try { return model.ReadInitializer(name); }
            catch (KeyNotFoundException) { throw new NotSupportedException($"{model.Source}: {node.OpType} node '{node.Output[0]}' takes '{name}', which is not a constant: not an affine head"); }
        }

        private static long AttrI(NodeProto n, string name, long def) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : def;
        private static float AttrF(NodeProto n, string name, float def) => n.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : def;
        private static long[] AttrInts(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name)?.Ints.ToArray() ?? [];

        private void Fold(NodeProto n)
        {
            switch (n.OpType)
            {
                case "Dropout" or "Identity":
                    return;
                case "Flatten" or "Reshape" or "Squeeze" or "Unsqueeze":
                    if (_stage == 0)
                    {
                        if (n.OpType is "Flatten" or "Reshape") _stage = 1;
                        else throw new NotSupportedException($"{model.Source}: {n.OpType} '{n.Output[0]}' on the spatial map is not supported");
                    }
                    return;
                case "BatchNormalization":
                {
                    int len = _stage == 0 ? c : _dim;
                    if (_stage == 1) throw new NotSupportedException($"{model.Source}: BatchNormalization on a flattened map ('{n.Output[0]}') is not supported");
                    var sc = Const(n.Input[1], n).Data; var bb = Const(n.Input[2], n).Data; var mean = Const(n.Input[3], n).Data; var vr = Const(n.Input[4], n).Data;
                    if (sc.Length != len) throw new InvalidDataException($"{model.Source}: BatchNormalization '{n.Output[0]}' has {sc.Length} channels, expected {len}");
                    double eps = AttrF(n, "epsilon", 1e-5f);
                    var a = new double[len]; var t = new double[len];
                    for (int i = 0; i < len; i++) { a[i] = sc[i] / Math.Sqrt(vr[i] + eps); t[i] = bb[i] - a[i] * mean[i]; }
                    Elementwise(a, t);
                    return;
                }
                case "Add" or "Sub" or "Mul" or "Div":
                {
                    if (_stage == 1) throw new NotSupportedException($"{model.Source}: {n.OpType} on a flattened map ('{n.Output[0]}') is not supported");
                    int len = _stage == 0 ? c : _dim;
                    bool currentFirst = n.Input[0] == _current;
                    if (!currentFirst && n.OpType is "Sub" or "Div") throw new NotSupportedException($"{model.Source}: {n.OpType} '{n.Output[0]}' with the feature on the right is not supported");
                    var k = Const(currentFirst ? n.Input[1] : n.Input[0], n).Data;
                    if (k.Length != 1 && k.Length != len) throw new InvalidDataException($"{model.Source}: {n.OpType} '{n.Output[0]}' constant has {k.Length} values, expected 1 or {len}");
                    double K(int i) => k.Length == 1 ? k[0] : k[i];
                    var a = new double[len]; var t = new double[len];
                    for (int i = 0; i < len; i++)
                        (a[i], t[i]) = n.OpType switch { "Add" => (1.0, K(i)), "Sub" => (1.0, -K(i)), "Mul" => (K(i), 0.0), _ => (1.0 / K(i), 0.0) };
                    Elementwise(a, t);
                    return;
                }
                case "Conv":
                    if (_stage == 0) { ReduceConv(n); return; }
                    if (_stage == 2) { VectorConv(n); return; }
                    break;
                case "Gemm":
                {
                    if (AttrI(n, "transA", 0) != 0) throw new NotSupportedException($"{model.Source}: Gemm '{n.Output[0]}' with transA is not supported");
                    var (wd, ws) = Const(n.Input[1], n);
                    bool transB = AttrI(n, "transB", 0) != 0;
                    int outDim = (int)(transB ? ws[0] : ws[1]), inDim = (int)(transB ? ws[1] : ws[0]);
                    double alpha = AttrF(n, "alpha", 1f), beta = AttrF(n, "beta", 1f);
                    var l = new double[outDim * inDim];
                    for (int o = 0; o < outDim; o++)
                        for (int i = 0; i < inDim; i++) l[o * inDim + i] = alpha * (transB ? wd[o * inDim + i] : wd[i * outDim + o]);
                    var bias = new double[outDim];
                    if (n.Input.Count > 2 && n.Input[2].Length > 0)
                    {
                        var cb = Const(n.Input[2], n).Data;
                        for (int o = 0; o < outDim; o++) bias[o] = beta * (cb.Length == 1 ? cb[0] : cb[o]);
                    }
                    Linear(n, l, outDim, inDim, bias);
                    return;
                }
                case "MatMul":
                {
                    if (n.Input[0] != _current) throw new NotSupportedException($"{model.Source}: MatMul '{n.Output[0]}' with the feature on the right is not supported");
                    var (wd, ws) = Const(n.Input[1], n);
                    if (ws.Length != 2) throw new NotSupportedException($"{model.Source}: MatMul '{n.Output[0]}' weight is {ws.Length}-D");
                    int inDim = (int)ws[0], outDim = (int)ws[1];
                    var l = new double[outDim * inDim];
                    for (int o = 0; o < outDim; o++)
                        for (int i = 0; i < inDim; i++) l[o * inDim + i] = wd[i * outDim + o];
                    Linear(n, l, outDim, inDim, new double[outDim]);
                    return;
                }
            }
            throw new NotSupportedException($"{model.Source}: op {n.OpType} ('{n.Output[0]}') after the feature map is not affine or not supported; a weight-derived xCos needs an affine head");
        }

        // y = a x + t elementwise, on the map (stage 0) or on the vector (stage 2).
        private void Elementwise(double[] a, double[] t)
        {
            if (_stage == 0)
            {
                for (int i = 0; i < c; i++) { _s[i] *= a[i]; _t[i] = a[i] * _t[i] + t[i]; }
                return;
            }
            for (int o = 0; o < _dim; o++)
            {
                for (int j = 0; j < _r; j++) _p[o * _r + j] *= a[o];
                _b[o] = a[o] * _b[o] + t[o];
            }
        }

        private void ReduceConv(NodeProto n)
        {
            var (wd, ws) = Const(n.Input[1], n);
            int group = (int)AttrI(n, "group", 1);
            if (ws.Length != 4 || ws[2] != h || ws[3] != w || AttrInts(n, "pads").Any(p => p != 0))
                throw new NotSupportedException($"{model.Source}: Conv '{n.Output[0]}' on the {h}x{w} map must have a {h}x{w} kernel and no padding (kernel [{string.Join(",", ws)}])");
            int outC = (int)ws[0];
            var bias = n.Input.Count > 2 && n.Input[2].Length > 0 ? Const(n.Input[2], n).Data : new float[outC];
            _b = new double[outC];
            if (group == c && outC == c && ws[1] == 1)
            {
                _diagonal = true;
                _k = new float[Hw * c];
                for (int ch = 0; ch < c; ch++)
                {
                    double tsum = 0;
                    for (int cell = 0; cell < Hw; cell++)
                    {
                        double d = wd[ch * Hw + cell];
                        _k[cell * c + ch] = (float)(d * _s[ch]);
                        tsum += d * _t[ch];
                    }
                    _b[ch] = bias[ch] + tsum;
                }
            }
            else if (group == 1 && ws[1] == c)
            {
                _diagonal = false;
                _k = new float[Hw * outC * c];
                for (int o = 0; o < outC; o++)
                {
                    double tsum = 0;
                    for (int ch = 0; ch < c; ch++)
                        for (int cell = 0; cell < Hw; cell++)
                        {
                            double d = wd[(o * c + ch) * Hw + cell];
                            _k[(cell * outC + o) * c + ch] = (float)(d * _s[ch]);
                            tsum += d * _t[ch];
                        }
                    _b[o] = bias[o] + tsum;
                }
            }
            else throw new NotSupportedException($"{model.Source}: Conv '{n.Output[0]}' has group {group} with weight [{string.Join(",", ws)}]; only full (group 1) or depthwise (group {c}) reductions are folded");
            StartVector(outC);
        }

        private void StartVector(int r)
        {
            _r = r; _dim = r; _stage = 2;
            _p = new double[r * r];
            for (int i = 0; i < r; i++) _p[i * r + i] = 1;
        }

        private void VectorConv(NodeProto n)
        {
            var (wd, ws) = Const(n.Input[1], n);
            if (ws.Length != 4 || ws[2] != 1 || ws[3] != 1 || AttrI(n, "group", 1) != 1 || ws[1] != _dim)
                throw new NotSupportedException($"{model.Source}: Conv '{n.Output[0]}' after the reduction must be 1x1, group 1, {_dim} input channels (weight [{string.Join(",", ws)}])");
            int outC = (int)ws[0];
            var l = wd.Select(x => (double)x).ToArray();
            var bias = n.Input.Count > 2 && n.Input[2].Length > 0 ? Const(n.Input[2], n).Data.Select(x => (double)x).ToArray() : new double[outC];
            Linear(n, l, outC, _dim, bias);
        }

        // y = L x + bias on the current vector (or, in stage 1, the flattened map: the reduction itself).
        private void Linear(NodeProto n, double[] l, int outDim, int inDim, double[] bias)
        {
            if (_stage == 1)
            {
                if (inDim != c * Hw) throw new InvalidDataException($"{model.Source}: {n.OpType} '{n.Output[0]}' takes {inDim} inputs, the flattened map has {c * Hw}");
                // Flattened CHW index = ch * HW + cell.
                _diagonal = false;
                _k = new float[Hw * outDim * c];
                _b = new double[outDim];
                for (int o = 0; o < outDim; o++)
                {
                    double tsum = 0;
                    for (int ch = 0; ch < c; ch++)
                        for (int cell = 0; cell < Hw; cell++)
                        {
                            double d = l[o * inDim + ch * Hw + cell];
                            _k[(cell * outDim + o) * c + ch] = (float)(d * _s[ch]);
                            tsum += d * _t[ch];
                        }
                    _b[o] = bias[o] + tsum;
                }
                StartVector(outDim);
                return;
            }
            if (_stage != 2) throw new NotSupportedException($"{model.Source}: {n.OpType} '{n.Output[0]}' on the spatial map is not supported");
            if (inDim != _dim) throw new InvalidDataException($"{model.Source}: {n.OpType} '{n.Output[0]}' takes {inDim} inputs, the vector has {_dim}");
            var p = new double[outDim * _r];
            var b = new double[outDim];
            Parallel.For(0, outDim, o =>
            {
                for (int i = 0; i < inDim; i++)
                {
                    double li = l[o * inDim + i];
                    if (li == 0) continue;
                    for (int j = 0; j < _r; j++) p[o * _r + j] += li * _p[i * _r + j];
                    b[o] += li * _b[i];
                }
                b[o] += bias[o];
            });
            _p = p; _b = b; _dim = outDim;
        }
    }
}
