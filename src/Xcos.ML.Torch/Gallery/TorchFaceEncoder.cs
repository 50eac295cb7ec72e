using Xcos.ML.FaceModels;
using Xcos.ML.Gallery;
using Xcos.ML.Images;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Verification;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Gallery;

/// <summary>
/// A TorchSharp xCos checkpoint as a gallery encoder. The embedding is the one whose cosine the model reports (the
/// target backbone's when it has one, else the flattened grid); the face code is the folded pair head's per-face part
/// (<see cref="FaceCode"/>: unit grid cells and both attention shares), so a gallery pair costs only the head's
/// pair step. Works on aligned 112x112 faces, or on photos when given a detector.
/// </summary>
/// <remarks>Not thread-safe (one libtorch module).</remarks>
public sealed class TorchFaceEncoder : IFaceEncoder
{
    private const int Side = 112, Cells = 49;
    private readonly XcosModel _model;
    private readonly FoldedPairHead _head;
    private readonly FaceDetector? _detector;
    private readonly FaceTensorOptions? _tensor;
    private readonly int _channels, _share;

    /// <summary>Wraps a loaded model; <paramref name="checkpointPath"/> is hashed into the stamp.</summary>
    /// <param name="model">The model (eval mode is set here).</param>
    /// <param name="checkpointPath">The file the model came from.</param>
    /// <param name="detector">Detector for raw photos, or null for aligned faces only (not disposed here).</param>
    /// <param name="threshold">Cosine threshold of the open-set decision, or null (checkpoints carry none).</param>
    /// <param name="tensor">Input normalisation (default the training one).</param>
    public TorchFaceEncoder(XcosModel model, string checkpointPath, FaceDetector? detector = null, double? threshold = null, FaceTensorOptions? tensor = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        // the folded pair head behind gallery search is laid out for 7x7 cells
        if (model.Backbone.GridSize != FaceBackbone.MapSize)
            throw new NotSupportedException($"{checkpointPath}: the gallery encodes 7x7 grids only; this checkpoint's grid is {model.Backbone.GridSize}x{model.Backbone.GridSize}.");
        _model.eval();
        _detector = detector;
        _tensor = tensor;
        Threshold = threshold;
        _head = new FoldedPairHead(model.AttentionNet);
        _channels = model.Backbone.GridChannels;
        _share = XcosAttention.EmbeddingChannels * Cells;
        // one dry run fixes the embedding length (the target backbone's may differ from the grid's)
        var probe = Run(new RgbImage(Side, Side));
        var settings = $"grid={_channels};target={model.BackboneTarget?.Architecture ?? "none"};mean={tensor?.Mean};std={tensor?.Std};order={tensor?.ChannelOrder}";
        Model = new GalleryModelStamp("checkpoint:" + Path.GetFileName(checkpointPath), GalleryModelStamp.HashOf(checkpointPath, settings),
            probe.Embedding.Length, probe.Code.Length);
    }

    /// <inheritdoc/>
    public GalleryModelStamp Model { get; }
    /// <inheritdoc/>
    public double? Threshold { get; }
    /// <inheritdoc/>
    public int FaceSize => Side;

    /// <inheritdoc/>
    public FaceEncoding Encode(RgbImage photo, bool aligned = false)
    {
        var (located, count, failure) = FaceEncoding.Locate(photo, aligned, _detector, "this checkpoint encoder has no face detector: give aligned 112x112 faces (aligned: true)");
        if (failure is not null) return failure;
        var face = located!;
        if (face.Width != Side || face.Height != Side)
            return FaceEncoding.Failed(FaceStatus.ModelError, $"{face.Width}x{face.Height} face; the checkpoint takes aligned {Side}x{Side} faces");
        var r = Run(face);
        return new FaceEncoding(FaceStatus.Ok, null, r.Embedding, r.Code, face, count);
    }

    private (float[] Embedding, float[] Code) Run(RgbImage face)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = _model.parameters().First().device;
        var data = new float[3 * Side * Side];
        FaceTensor.ToChw(face, data, _tensor);
        var x = tensor(data, [1, 3, Side, Side]).to(device);
        var (flat, grid) = _model.Backbone.Grid(x);
        var emb = _model.BackboneTarget is { } t ? t.Embed(x) : flat;
        using var code = _head.Encode(grid);
        float[] cells = code.Cells.cpu().data<float>().ToArray(), first = code.AsFirst.cpu().data<float>().ToArray(), second = code.AsSecond.cpu().data<float>().ToArray();
        return (emb.cpu().data<float>().ToArray(), [.. cells, .. first, .. second]);
    }

    /// <inheritdoc/>
    public PairExplanation Compare(float[] probeCode, float[] galleryCode)
    {
        if (probeCode.Length != Model.CodeLength || galleryCode.Length != Model.CodeLength)
            throw new ArgumentException($"face codes must hold {Model.CodeLength} floats, got {probeCode.Length} and {galleryCode.Length}");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = _model.parameters().First().device;
        FaceCode Code(float[] c)
        {
            int cells = Cells * _channels;
            return new FaceCode(tensor(c.AsSpan(0, cells).ToArray(), [1, Cells, _channels]).to(device),
                tensor(c.AsSpan(cells, _share).ToArray(), [1, _share]).to(device),
                tensor(c.AsSpan(cells + _share, _share).ToArray(), [1, _share]).to(device));
        }
        var s = _head.Score(Code(probeCode), Code(galleryCode));
        return new PairExplanation(s.Xcos.cpu().data<float>()[0], s.CosMap.cpu().reshape(-1).data<float>().ToArray(),
            s.Attention.cpu().reshape(-1).data<float>().ToArray(), null, 7);
    }

    /// <summary>
    /// The pair head on a probe and each gallery code in one batched call (the probe's code repeated per row), as
    /// <see cref="Compare"/> scores each pair.
    /// </summary>
    /// <exception cref="ArgumentException">A code of the wrong length.</exception>
    public IReadOnlyList<PairExplanation> CompareMany(float[] probeCode, IReadOnlyList<float[]> galleryCodes)
    {
        ArgumentNullException.ThrowIfNull(probeCode);
        ArgumentNullException.ThrowIfNull(galleryCodes);
        int len = Model.CodeLength;
        if (probeCode.Length != len || galleryCodes.Any(c => c is null || c.Length != len))
            throw new ArgumentException($"face codes must hold {len} floats, got {probeCode.Length} and {string.Join(", ", galleryCodes.Select(c => c?.Length ?? 0).Distinct())}");
        int n = galleryCodes.Count;
        if (n == 0) return [];
        var probes = new float[n * len];
        var gallery = new float[n * len];
        for (int i = 0; i < n; i++)
        {
            probeCode.CopyTo(probes, i * len);
            galleryCodes[i].CopyTo(gallery, i * len);
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = _model.parameters().First().device;
        int cells = Cells * _channels;
        FaceCode Rows(float[] flat)
        {
            var t = tensor(flat, [n, len]).to(device);
            return new FaceCode(t.narrow(1, 0, cells).reshape(n, Cells, _channels), t.narrow(1, cells, _share), t.narrow(1, cells + _share, _share));
        }
        var s = _head.Score(Rows(probes), Rows(gallery));
        var xcos = s.Xcos.cpu().data<float>().ToArray();
        var maps = s.CosMap.cpu().reshape(n, Cells).data<float>().ToArray();
        var att = s.Attention.cpu().reshape(n, Cells).data<float>().ToArray();
        return Enumerable.Range(0, n).Select(i => new PairExplanation(xcos[i], maps.AsSpan(i * Cells, Cells).ToArray(), att.AsSpan(i * Cells, Cells).ToArray(), null, 7)).ToArray();
    }

    /// <inheritdoc/>
    public void Dispose() => _head.Dispose();
}
