using Microsoft.ML.OnnxRuntime;
using Xcos.ML.FaceModels;
using Xcos.ML.Torch.Data;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.FaceModels;

/// <summary>
/// Any ONNX face model with a descriptor (<see cref="FaceModelDescriptor"/>, e.g. fr_feature) as the frozen model of
/// head-only xCos training: <see cref="OnnxFaceEmbedder"/> finds its last 7x7 map and exposes it next to the embedding,
/// and ONNX Runtime computes both for the trainer's cache (<see cref="FeatureMapCache"/>). Train with
/// <see cref="Preprocess"/> as <c>XcosTrainerOptions.Preprocess</c>, so the images are normalised as the model expects.
/// </summary>
/// <remarks>Thread-safe (ONNX Runtime sessions may run concurrently).</remarks>
public sealed class OnnxFeatureMapSource : IFeatureMapSource, IDisposable
{
    private readonly InferenceSession _session;
    private readonly bool _fixedBatch;

    /// <summary>Loads <paramref name="onnxPath"/> as <paramref name="descriptor"/> describes it.</summary>
    /// <exception cref="FileNotFoundException">The ONNX file is missing.</exception>
    /// <exception cref="InvalidDataException">The model has no 7x7 map (the head needs 7x7 cells) or no such values.</exception>
    public OnnxFeatureMapSource(FaceModelDescriptor descriptor, string onnxPath, int intraOpThreads = 0)
    {
        Embedder = new OnnxFaceEmbedder(descriptor, onnxPath, intraOpThreads);
        try
        {
            var shape = Embedder.MapShape;
            if (shape[1] != 7 || shape[2] != 7)
                throw new InvalidDataException($"{onnxPath}: map '{Embedder.FeatureMapName}' is {shape[0]}x{shape[1]}x{shape[2]}; the xCos head takes 7x7 cells");
            var info = Embedder.Model.ListValues();
            var inDims = info.First(v => v.Name == Embedder.InputName).Shape;
            _fixedBatch = inDims is { Length: > 0 } && inDims[0] > 0;
            var outDims = info.FirstOrDefault(v => v.Name == Embedder.EmbeddingName)?.Shape;
            EmbeddingSize = outDims is { Length: 2 } && outDims[1] > 0 ? (int)outDims[1]
                : Embedder.Embed(new Images.RgbImage(descriptor.InputSize, descriptor.InputSize)).Embedding.Length;
            _session = OnnxSessions.Open(onnxPath, Embedder.Model.ToBytes(), intraOpThreads);
        }
        catch
        {
            Embedder.Dispose();
            throw;
        }
        OnnxPath = Path.GetFullPath(onnxPath);
    }

    /// <summary>
    /// Opens <paramref name="model"/>: "fr_feature" (the shipped descriptor) or a descriptor .json file; the ONNX file is
    /// looked up in the models folder (<see cref="ModelStore.ResolveDirectory"/>), then next to the descriptor.
    /// </summary>
    /// <exception cref="FileNotFoundException">The descriptor or the ONNX file is missing (the message says where it looked).</exception>
    public static OnnxFeatureMapSource Open(string model, string? modelsDir = null, int intraOpThreads = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        string descriptorPath = model == "fr_feature" ? FaceModelDescriptor.ShippedPath() : model;
        var d = FaceModelDescriptor.Load(descriptorPath);
        var dir = ModelStore.ResolveDirectory(modelsDir);
        if (d.BaseOnnxFile is not null) FineTunedTail.EnsureAssembled(d, descriptorPath, dir);
        var candidates = new[] { Path.Combine(dir, d.OnnxFile), Path.Combine(Path.GetDirectoryName(Path.GetFullPath(descriptorPath))!, d.OnnxFile) };
        var onnx = candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"face model {d.OnnxFile} not found in {string.Join(" or ", candidates.Select(Path.GetDirectoryName).Distinct())}; run `xcos models fetch` (or set {ModelStore.EnvironmentVariable})", candidates[0]);
        var source = new OnnxFeatureMapSource(d, onnx, intraOpThreads);
        source.DescriptorPath = Path.GetFullPath(descriptorPath);
        return source;
    }

    /// <summary>The embedder (descriptor, edited model, value names).</summary>
    public OnnxFaceEmbedder Embedder { get; }
    /// <summary>The face model's descriptor: files, input size and normalisation, threshold.</summary>
    public FaceModelDescriptor Descriptor => Embedder.Descriptor;
    /// <summary>The descriptor file when opened with <see cref="Open"/>, else null.</summary>
    public string? DescriptorPath { get; private set; }
    /// <summary>Full path of the face model's .onnx file.</summary>
    public string OnnxPath { get; }

    /// <summary>Image preprocessing matching the descriptor (size, mean, 1/scale, colour order); use as <c>XcosTrainerOptions.Preprocess</c>.</summary>
    public FacePreprocessOptions Preprocess => new()
    {
        Size = Descriptor.InputSize, Mean = Descriptor.Mean, Std = 1 / Descriptor.Scale,
        ChannelOrder = Descriptor.TensorOptions().ChannelOrder,
    };

    /// <inheritdoc />
    public int Channels => Embedder.MapShape[0];
    /// <inheritdoc />
    public int MapSize => 7;
    /// <inheritdoc />
    public int EmbeddingSize { get; }
    /// <inheritdoc />
    public string Description => $"{Descriptor.Name} (ONNX {Path.GetFileName(OnnxPath)}, map '{Embedder.FeatureMapName}' {Channels}x7x7, embedding '{Embedder.EmbeddingName}' {EmbeddingSize})";

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The spans do not hold <paramref name="count"/> images, maps and embeddings.</exception>
    public void Compute(ReadOnlySpan<float> images, int count, Span<float> maps, Span<float> embeddings)
    {
        int side = Descriptor.InputSize, per = 3 * side * side, mapFloats = Channels * 49, e = EmbeddingSize;
        if (images.Length != count * per || maps.Length != count * mapFloats || embeddings.Length != count * e)
            throw new ArgumentException($"{Descriptor.Name}: {count} images need {count * per} input, {count * mapFloats} map and {count * e} embedding values; got {images.Length}, {maps.Length}, {embeddings.Length}");
        int step = _fixedBatch ? 1 : Math.Max(1, count);
        for (int start = 0; start < count; start += step)
        {
            int n = Math.Min(step, count - start);
            var input = images.Slice(start * per, n * per).ToArray();
            using var x = OrtValue.CreateTensorValueFromMemory(input, [n, 3, side, side]);
            using var ro = new RunOptions();
            using var outs = _session.Run(ro, [Embedder.InputName], [x], [Embedder.EmbeddingName, Embedder.FeatureMapName]);
            var emb = outs[0].GetTensorDataAsSpan<float>();
            var map = outs[1].GetTensorDataAsSpan<float>();
            if (emb.Length != n * e || map.Length != n * mapFloats)
                throw new InvalidDataException($"{OnnxPath}: expected {n}x{e} embedding and {n}x{mapFloats} map values, got {emb.Length} and {map.Length}");
            map.CopyTo(maps.Slice(start * mapFloats, n * mapFloats));
            for (int i = 0; i < n; i++)
            {
                // the trainer's target is the cosine, so embeddings are stored L2-normalised
                var src = emb.Slice(i * e, e);
                var dst = embeddings.Slice((start + i) * e, e);
                double norm = 0;
                foreach (var v in src) norm += (double)v * v;
                float inv = norm > 0 ? (float)(1 / Math.Sqrt(norm)) : 0f;
                for (int k = 0; k < e; k++) dst[k] = src[k] * inv;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        Embedder.Dispose();
    }
}
