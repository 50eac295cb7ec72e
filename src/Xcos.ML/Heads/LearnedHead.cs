using Microsoft.ML.OnnxRuntime;
using Xcos.ML.FaceModels;
using Xcos.ML.Numerics;
using Xcos.ML.Onnx;

namespace Xcos.ML.Heads;

/// <summary>xCos of one pair by a learned head.</summary>
/// <param name="Xcos">The learned xCos: the attention-weighted sum of <paramref name="CosMap"/>.</param>
/// <param name="CosMap">Per-cell cosines of the learned 32-d grid features (49 for 7x7), row-major.</param>
/// <param name="Attention">Per-cell attention, summing to 1.</param>
public sealed record LearnedHeadExplanation(double Xcos, float[] CosMap, float[] Attention)
{
    /// <summary>The face model's cosine's share in <see cref="Xcos"/> for a gated head (<see cref="LearnedHead.TakesEmbeddings"/>); null for others.</summary>
    public double? CosineShare { get; init; }
}

/// <summary>
/// The paper's learned xCos head for a frozen ONNX face model, run by ONNX Runtime (no TorchSharp): the grid layer
/// (conv 1x1 C-&gt;32, BN, PReLU) on the model's last 7x7 map and the attention branch, trained head-only to
/// reproduce the model's own cosine (<c>xcos train --mode head --onnx-model</c>). The file is the map-head model of
/// <see cref="XcosOnnxExport.BuildMapHeadModel"/>: inputs <c>map1</c>, <c>map2</c> [N,C,7,7]; outputs <c>score</c>,
/// <c>cos_map</c>, <c>attention</c>. Its metadata names the face model it was trained for (<see cref="FaceModelKey"/>).
/// </summary>
/// <remarks>Thread-safe (ONNX Runtime sessions may run concurrently).</remarks>
public sealed class LearnedHead : IDisposable
{
    /// <summary>File name of a learned head next to a face-model descriptor (e.g. <c>data/fr_feature/learned_head.onnx</c>).</summary>
    public const string DefaultFileName = "learned_head.onnx";

    /// <summary>Metadata key naming the face model (the descriptor's name) the head was trained on.</summary>
    public const string FaceModelKey = "xcos.face_model";

    /// <summary>Metadata key naming the feature-map value the head reads.</summary>
    public const string FeatureMapKey = "xcos.feature_map";

    /// <summary>Metadata key describing the training data (free text).</summary>
    public const string TrainingKey = "xcos.training";

    /// <summary>Metadata key: how the head forms xCos ("patch_cosine", the paper's; "anchored", the two-branch model's).</summary>
    public const string FormKey = "xcos.head_form";

    /// <summary>Metadata key: the cosine's share in the score (<see cref="XcosOnnxExportOptions.CosineWeight"/>) and where it was chosen.</summary>
    public const string CosineWeightKey = "xcos.cosine_weight";

    /// <summary>Metadata key of a gated head's <see cref="Xcos.ML.Heads.CosineGate"/> and where it was chosen.</summary>
    public const string CosineGateKey = "xcos.cosine_gate";

    /// <summary>What the head's cos_map holds, as a figure title: "Cell share of xCos" for an anchored head, else "Patch cosine".</summary>
    public string MapTitle => Metadata.TryGetValue(FormKey, out var f) && f == "anchored" ? "Cell share of xCos" : "Patch cosine";

    private const int Cells = 49;
    private readonly InferenceSession _session;

    /// <summary>Loads a map-head model file.</summary>
    /// <exception cref="FileNotFoundException">The file is missing.</exception>
    /// <exception cref="InvalidDataException">It is not a map-head model (the message names the file and what is wrong).</exception>
    public LearnedHead(string path, int intraOpThreads = 0) : this(path, null, intraOpThreads) { }

    /// <summary>Loads a map-head model from bytes; <paramref name="name"/> labels errors.</summary>
    public LearnedHead(byte[] model, string name = "(learned head)", int intraOpThreads = 0) : this(name, model ?? throw new ArgumentNullException(nameof(model)), intraOpThreads) { }

    private LearnedHead(string path, byte[]? bytes, int intraOpThreads)
    {
        if (bytes is null && !File.Exists(path)) throw new FileNotFoundException($"learned xCos head not found: {path} (train one with `xcos train --mode head --onnx-model fr_feature --data FACES --out DIR`)", path);
        _session = OnnxSessions.Open(path, bytes, intraOpThreads);
        try
        {
            Source = path;
            foreach (var input in new[] { XcosOnnxExport.Map1Input, XcosOnnxExport.Map2Input })
            {
                if (!_session.InputMetadata.TryGetValue(input, out var meta))
                    throw new InvalidDataException($"{path}: not a learned xCos head: expected inputs '{XcosOnnxExport.Map1Input}', '{XcosOnnxExport.Map2Input}', found {string.Join(", ", _session.InputMetadata.Keys)}");
                var d = meta.Dimensions;
                if (d.Length != 4 || d[1] <= 0 || d[2] != 7 || d[3] != 7)
                    throw new InvalidDataException($"{path}: input '{input}' has shape [{string.Join(",", d)}], expected [N,C,7,7]");
                Channels = d[1];
            }
            if (_session.InputMetadata.TryGetValue(XcosOnnxExport.CosineInput, out var cm))
            {
                if (cm.Dimensions.Length != 1) throw new InvalidDataException($"{path}: input '{XcosOnnxExport.CosineInput}' has shape [{string.Join(",", cm.Dimensions)}], expected [N]");
                TakesCosine = true;
            }
            if (_session.InputMetadata.TryGetValue(XcosOnnxExport.Embedding1Input, out var e1) && _session.InputMetadata.TryGetValue(XcosOnnxExport.Embedding2Input, out var e2))
            {
                foreach (var (name, d) in new[] { (XcosOnnxExport.Embedding1Input, e1.Dimensions), (XcosOnnxExport.Embedding2Input, e2.Dimensions) })
                    if (d.Length != 2 || d[1] <= 0) throw new InvalidDataException($"{path}: input '{name}' has shape [{string.Join(",", d)}], expected [N,D]");
                TakesEmbeddings = true;
                EmbeddingDim = e1.Dimensions[1];
            }
            if (_session.InputMetadata.Count != (TakesCosine ? 3 : TakesEmbeddings ? 4 : 2))
                throw new InvalidDataException($"{path}: not a learned xCos head: inputs {string.Join(", ", _session.InputMetadata.Keys)}; expected '{XcosOnnxExport.Map1Input}', '{XcosOnnxExport.Map2Input}' and optionally '{XcosOnnxExport.CosineInput}' or both '{XcosOnnxExport.Embedding1Input}' and '{XcosOnnxExport.Embedding2Input}'");
            foreach (var o in new[] { XcosOnnxExport.ScoreOutput, XcosOnnxExport.CosMapOutput, XcosOnnxExport.AttentionOutput })
                if (!_session.OutputMetadata.ContainsKey(o))
                    throw new InvalidDataException($"{path}: not a learned xCos head: expected an output named '{o}', found {string.Join(", ", _session.OutputMetadata.Keys)}");
            Metadata = new Dictionary<string, string>(_session.ModelMetadata.CustomMetadataMap, StringComparer.Ordinal);
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>The file (or the name given with the bytes).</summary>
    public string Source { get; }

    /// <summary>Channels of the feature map the head takes.</summary>
    public int Channels { get; }

    /// <summary>
    /// Whether the head's score blends in the face model's embedding cosine (input <c>cosine</c>,
    /// <see cref="XcosOnnxExportOptions.CosineWeight"/>): every <see cref="Explain(ReadOnlySpan{float}, ReadOnlySpan{float}, int, ReadOnlySpan{float})"/>
    /// then needs the pairs' cosines.
    /// </summary>
    public bool TakesCosine { get; }

    /// <summary>
    /// Whether the head gates the cosine's share on the two faces' original embeddings (inputs <c>face_embedding1</c>,
    /// <c>face_embedding2</c>, <see cref="CosineGateOnnx.WithCosineGate"/>): every call then needs the embeddings.
    /// </summary>
    public bool TakesEmbeddings { get; }

    /// <summary>Whether scoring needs the faces' embeddings (<see cref="TakesCosine"/> or <see cref="TakesEmbeddings"/>).</summary>
    public bool NeedsEmbeddings => TakesCosine || TakesEmbeddings;

    /// <summary>Width of the embeddings a gated head takes; 0 for others.</summary>
    public int EmbeddingDim { get; }

    /// <summary>The model's metadata (<see cref="FaceModelKey"/>, <see cref="FeatureMapKey"/>, <see cref="TrainingKey"/>, export settings).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The face model the head was trained for, or null when the file does not say.</summary>
    public string? FaceModel => Metadata.TryGetValue(FaceModelKey, out var v) ? v : null;

    /// <summary>
    /// Checks that the head fits <paramref name="descriptor"/>'s model: same channel count, and the same model name
    /// when the head records one.
    /// </summary>
    /// <exception cref="InvalidDataException">The head was trained for another model or another map size.</exception>
    public void CheckFits(FaceModelDescriptor descriptor, int mapChannels)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (mapChannels != Channels)
            throw new InvalidDataException($"{Source}: the learned head takes {Channels}-channel maps; face model '{descriptor.Name}' gives {mapChannels} channels");
        if (FaceModel is { } m && m != descriptor.Name)
            throw new InvalidDataException($"{Source}: the learned head was trained for face model '{m}', not '{descriptor.Name}'");
    }

    /// <summary>xCos of two CHW maps (Channels x 7 x 7 each); <paramref name="cosine"/>: the pair's embedding cosine (used when <see cref="TakesCosine"/>).</summary>
    public LearnedHeadExplanation Explain(ReadOnlySpan<float> map1, ReadOnlySpan<float> map2, float cosine = float.NaN) =>
        Explain(map1, map2, 1, TakesCosine ? new[] { cosine } : [])[0];

    /// <summary>xCos of <paramref name="count"/> pairs of maps given back to back ([count, Channels, 7, 7] each).</summary>
    /// <param name="maps1">The first faces' maps.</param>
    /// <param name="maps2">The second faces' maps.</param>
    /// <param name="count">Pairs.</param>
    /// <param name="cosines">The pairs' embedding cosines (count values) when <see cref="TakesCosine"/>; ignored otherwise.</param>
    /// <exception cref="ArgumentException">The spans do not hold count maps, or the head takes cosines and count finite ones were not given.</exception>
    public IReadOnlyList<LearnedHeadExplanation> Explain(ReadOnlySpan<float> maps1, ReadOnlySpan<float> maps2, int count, ReadOnlySpan<float> cosines = default)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "at least one pair");
        CheckMaps(maps1, maps2, count);
        if (TakesEmbeddings) throw new InvalidOperationException($"{Source}: this head gates the cosine on both faces' embeddings; call Explain with the embeddings");
        if (TakesCosine)
        {
            if (cosines.Length != count) throw new ArgumentException($"{Source}: this head blends in the embedding cosine; expected {count} cosines, got {cosines.Length}", nameof(cosines));
            foreach (var v in cosines)
                if (!float.IsFinite(v)) throw new ArgumentException($"{Source}: this head blends in the embedding cosine; got {v}, expected a finite cosine", nameof(cosines));
        }
        if (TakesCosine) return Run(maps1, maps2, count, (XcosOnnxExport.CosineInput, cosines.ToArray(), [count]));
        return Run(maps1, maps2, count);
    }

    /// <summary>
    /// xCos of <paramref name="count"/> pairs of maps with the two faces' embeddings from the face model, which a head
    /// that blends in the cosine needs (<see cref="NeedsEmbeddings"/>; ignored by others).
    /// </summary>
    /// <param name="maps1">The first faces' maps.</param>
    /// <param name="maps2">The second faces' maps.</param>
    /// <param name="count">Pairs.</param>
    /// <param name="embeddings1">The first faces' embeddings, back to back (count x D).</param>
    /// <param name="embeddings2">The second faces' embeddings.</param>
    /// <exception cref="ArgumentException">The spans do not hold count maps or count embeddings of one width (that of a gated head), or an embedding is not finite.</exception>
    public IReadOnlyList<LearnedHeadExplanation> Explain(ReadOnlySpan<float> maps1, ReadOnlySpan<float> maps2, int count, ReadOnlySpan<float> embeddings1, ReadOnlySpan<float> embeddings2)
    {
        if (!NeedsEmbeddings) return Explain(maps1, maps2, count);
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "at least one pair");
        int dim = embeddings1.Length / count;
        if (dim == 0 || embeddings1.Length != count * dim || embeddings2.Length != count * dim || (TakesEmbeddings && dim != EmbeddingDim))
            throw new ArgumentException($"{Source}: expected {count} embeddings of {(TakesEmbeddings ? EmbeddingDim.ToString(System.Globalization.CultureInfo.InvariantCulture) : "one width")} per side, got {embeddings1.Length} and {embeddings2.Length} values", nameof(embeddings1));
        foreach (var v in embeddings1) if (!float.IsFinite(v)) throw new ArgumentException($"{Source}: the first faces' embeddings hold {v}, expected finite values", nameof(embeddings1));
        foreach (var v in embeddings2) if (!float.IsFinite(v)) throw new ArgumentException($"{Source}: the second faces' embeddings hold {v}, expected finite values", nameof(embeddings2));
        if (TakesCosine)
        {
            var cosines = new float[count];
            for (int i = 0; i < count; i++) cosines[i] = (float)VectorMath.Cosine(embeddings1.Slice(i * dim, dim), embeddings2.Slice(i * dim, dim));
            return Explain(maps1, maps2, count, cosines);
        }
        CheckMaps(maps1, maps2, count);
        return Run(maps1, maps2, count, (XcosOnnxExport.Embedding1Input, embeddings1.ToArray(), [count, dim]), (XcosOnnxExport.Embedding2Input, embeddings2.ToArray(), [count, dim]));
    }

    /// <summary>
    /// The pairs given face by face (maps and, for a head that needs them, the face model's embeddings): packs them back
    /// to back for <see cref="Explain(ReadOnlySpan{float}, ReadOnlySpan{float}, int, ReadOnlySpan{float}, ReadOnlySpan{float})"/>.
    /// </summary>
    internal IReadOnlyList<LearnedHeadExplanation> Explain(IReadOnlyList<(float[] Map1, float[] Map2, float[] Embedding1, float[] Embedding2)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0) return [];
        int per = pairs[0].Map1.Length, dim = NeedsEmbeddings ? pairs[0].Embedding1.Length : 0;
        var m1 = new float[pairs.Count * per];
        var m2 = new float[pairs.Count * per];
        var e1 = new float[pairs.Count * dim];
        var e2 = new float[pairs.Count * dim];
        for (int i = 0; i < pairs.Count; i++)
        {
            var (a, b, ea, eb) = pairs[i];
            a.CopyTo(m1, i * per);
            b.CopyTo(m2, i * per);
            if (dim == 0) continue;
            ea.CopyTo(e1, i * dim);
            eb.CopyTo(e2, i * dim);
        }
        return NeedsEmbeddings ? Explain(m1, m2, pairs.Count, e1, e2) : Explain(m1, m2, pairs.Count);
    }

    private void CheckMaps(ReadOnlySpan<float> maps1, ReadOnlySpan<float> maps2, int count)
    {
        long per = Channels * Cells;
        if (maps1.Length != count * per || maps2.Length != count * per)
            throw new ArgumentException($"expected {count} maps of {Channels}x7x7 = {per} values per side, got {maps1.Length} and {maps2.Length} values");
    }

    private LearnedHeadExplanation[] Run(ReadOnlySpan<float> maps1, ReadOnlySpan<float> maps2, int count, params (string Name, float[] Values, long[] Shape)[] extra)
    {
        long[] shape = [count, Channels, 7, 7];
        var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(maps1.ToArray(), shape), OrtValue.CreateTensorValueFromMemory(maps2.ToArray(), shape) };
        try
        {
            values.AddRange(extra.Select(x => OrtValue.CreateTensorValueFromMemory(x.Values, x.Shape)));
            string[] names = [XcosOnnxExport.Map1Input, XcosOnnxExport.Map2Input, .. extra.Select(x => x.Name)];
            string[] outputs = TakesEmbeddings
                ? [XcosOnnxExport.ScoreOutput, XcosOnnxExport.CosMapOutput, XcosOnnxExport.AttentionOutput, XcosOnnxExport.CosineShareOutput]
                : [XcosOnnxExport.ScoreOutput, XcosOnnxExport.CosMapOutput, XcosOnnxExport.AttentionOutput];
            using var ro = new RunOptions();
            using var outs = _session.Run(ro, names, values, outputs);
            var s = outs[0].GetTensorDataAsSpan<float>();
            var c = outs[1].GetTensorDataAsSpan<float>();
            var t = outs[2].GetTensorDataAsSpan<float>();
            var w = TakesEmbeddings ? outs[3].GetTensorDataAsSpan<float>() : default;
            var result = new LearnedHeadExplanation[count];
            for (int i = 0; i < count; i++)
                result[i] = new LearnedHeadExplanation(s[i], c.Slice(i * Cells, Cells).ToArray(), t.Slice(i * Cells, Cells).ToArray()) { CosineShare = TakesEmbeddings ? w[i] : null };
            return result;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>The head shipped next to a descriptor (<see cref="DefaultFileName"/> in its folder), or null when there is none.</summary>
    public static string? NextTo(string descriptorPath)
    {
        var p = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(descriptorPath))!, DefaultFileName);
        return File.Exists(p) ? p : null;
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
