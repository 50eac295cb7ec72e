using Microsoft.ML.OnnxRuntime;
using Xcos.ML.Images;
using Xcos.ML.Onnx;

namespace Xcos.ML.FaceModels;

/// <summary>Embedding and last spatial feature map of one aligned face.</summary>
/// <param name="Embedding">The model's embedding output (not normalised).</param>
/// <param name="FeatureMap">The last spatial map, CHW (Channels x Height x Width).</param>
public sealed record FaceEmbedding(float[] Embedding, float[] FeatureMap);

/// <summary>
/// Runs any ONNX face-embedding model as an xCos backbone: the model is edited in memory so its last 7x7 spatial map
/// (named in the descriptor, else found by shape) is an extra output next to the embedding.
/// </summary>
/// <remarks>Thread-safe (ONNX Runtime sessions may run concurrently).</remarks>
public sealed class OnnxFaceEmbedder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly FaceTensorOptions _tensor;
    private readonly bool _fixedBatch;

    /// <summary>Most faces per ONNX Runtime call in <see cref="Embed(IReadOnlyList{RgbImage})"/>; longer lists go in chunks.</summary>
    public const int MaxBatch = 32;

    /// <summary>Whether the model takes several faces per call (its batch was symbolic, or <see cref="OnnxDynamicBatch"/> made it so).</summary>
    public bool Batched => !_fixedBatch;

    /// <summary>Loads <paramref name="onnxPath"/> as described by <paramref name="descriptor"/>.</summary>
    /// <param name="descriptor">Input geometry, normalisation and value names.</param>
    /// <param name="onnxPath">The ONNX file.</param>
    /// <param name="intraOpThreads">ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose.</param>
    /// <exception cref="FileNotFoundException">The ONNX file is missing.</exception>
    /// <exception cref="InvalidDataException">The model has no such values, or no 4-D map of the expected size.</exception>
    public OnnxFaceEmbedder(FaceModelDescriptor descriptor, string onnxPath, int intraOpThreads = 0)
        : this(descriptor, onnxPath, intraOpThreads, OnnxPrecision.Float32) { }

    /// <summary>
    /// Loads <paramref name="onnxPath"/>; with <see cref="OnnxPrecision.Int8"/> the embedding runs on its quantized form at
    /// <see cref="Int8Path"/>, while <see cref="Model"/> stays the float model (its weights feed the explanation head).
    /// </summary>
    /// <exception cref="FileNotFoundException">The ONNX file, or its int8 form, is missing (the message says how to make it).</exception>
    /// <exception cref="InvalidDataException">The int8 file was not written by the quantizer, or lacks the feature map.</exception>
    public OnnxFaceEmbedder(FaceModelDescriptor descriptor, string onnxPath, int intraOpThreads, OnnxPrecision precision)
        : this(descriptor, onnxPath, intraOpThreads, precision, null) { }

    /// <summary>
    /// As <see cref="OnnxFaceEmbedder(FaceModelDescriptor, string, int, OnnxPrecision)"/>, on the CUDA execution provider of GPU
    /// <paramref name="gpuDeviceId"/> when it is given (ONNX Runtime's GPU build: <c>-p:XcosOnnxBackend=cuda</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">A GPU is asked for and this ONNX Runtime has no CUDA execution provider (the message lists the ones it has).</exception>
    public OnnxFaceEmbedder(FaceModelDescriptor descriptor, string onnxPath, int intraOpThreads, OnnxPrecision precision, int? gpuDeviceId)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        descriptor.Validate();
        Descriptor = descriptor;
        Model = OnnxModelFile.Load(onnxPath);
        InputName = descriptor.InputName ?? (Model.InputNames.Count == 1 ? Model.InputNames[0]
            : throw new InvalidDataException($"{onnxPath}: the model has {Model.InputNames.Count} inputs; name one in the descriptor's input_name"));
        if (!Model.InputNames.Contains(InputName)) throw new InvalidDataException($"{onnxPath}: no input named '{InputName}' (inputs: {string.Join(", ", Model.InputNames)})");
        EmbeddingName = descriptor.EmbeddingName ?? Model.OutputNames[0];
        if (!Model.OutputNames.Contains(EmbeddingName)) throw new InvalidDataException($"{onnxPath}: no output named '{EmbeddingName}' (outputs: {string.Join(", ", Model.OutputNames)})");
        int side = descriptor.InputSize;
        var shapes = new Dictionary<string, long[]> { [InputName] = [1, 3, side, side] };
        if (descriptor.FeatureMapName is { } named)
        {
            FeatureMapName = named;
            var all = Model.RunShapes(shapes);
            if (!all.TryGetValue(named, out var s)) throw new InvalidDataException($"{onnxPath}: no node output named '{named}' (feature_map_name)");
            if (s.Shape.Length != 4) throw new InvalidDataException($"{onnxPath}: feature_map_name '{named}' has shape [{string.Join(",", s.Shape)}]; expected a 4-D map [N,C,H,W]");
            MapShape = [(int)s.Shape[1], (int)s.Shape[2], (int)s.Shape[3]];
        }
        else
        {
            int mapSide = (int)Math.Ceiling(side / 16.0);  // 112 -> 7: four stride-2 stages after the stem
            var found = Model.FindLastFeatureMap(mapSide, mapSide, shapes)
                ?? throw new InvalidDataException($"{onnxPath}: no 4-D {mapSide}x{mapSide} feature map found; name one in feature_map_name");
            FeatureMapName = found.Name;
            MapShape = [(int)found.Shape![1], mapSide, mapSide];
        }
        // the grid size is fixed at 7x7 through the weight-derived head, the exports and the figures
        if (MapShape[1] != 7 || MapShape[2] != 7)
            throw new InvalidDataException($"{onnxPath}: feature map '{FeatureMapName}' is {MapShape[1]}x{MapShape[2]} for a {side}x{side} input; xCos here supports a 7x7 grid only (112x112 input).");
        Model.AddOutput(FeatureMapName);
        Precision = precision;
        var runModel = Model;
        if (precision == OnnxPrecision.Int8)
        {
            string int8 = Int8Path(onnxPath);
            if (!File.Exists(int8))
                throw new FileNotFoundException($"int8 model {int8} not found; make it with `xcos export --format onnx --face-model {descriptor.Name} --precision int8 --calibration PHOTOS --out {Path.GetDirectoryName(Path.GetFullPath(onnxPath))}`", int8);
            var q = OnnxModelFile.Load(int8);
            if (!OnnxQuantizer.IsQuantized(q.Model)) throw new InvalidDataException($"{int8}: not an int8 model written by the quantizer (no {OnnxQuantizer.QuantizationKey} metadata)");
            // The quantizer keeps value names, so the float model's map is the same value here.
            try { q.AddOutput(FeatureMapName); }
            catch (ArgumentException e) { throw new InvalidDataException($"{int8}: {e.Message}; it does not belong to {onnxPath}", e); }
            runModel = q;
            onnxPath = int8;
        }
        _tensor = descriptor.TensorOptions();
        // A model exported at batch 1 is rewritten to take any batch (OnnxDynamicBatch); the rewrite is used only when
        // two faces in one call give two rows that equal their single runs' shapes, else faces go one by one.
        _fixedBatch = OnnxDynamicBatch.FixedBatch(runModel.Model) is not null;
        if (_fixedBatch)
        {
            var dynamic = runModel.Model.Clone();
            OnnxDynamicBatch.Rewrite(dynamic);
            var session = OnnxSessions.Open(onnxPath, OnnxModelFile.FromModel(dynamic).ToBytes(), intraOpThreads, gpuDeviceId);
            if (TakesBatches(session))
            {
                _session = session;
                _fixedBatch = false;
                return;
            }
            session.Dispose();
        }
        _session = OnnxSessions.Open(onnxPath, runModel.ToBytes(), intraOpThreads, gpuDeviceId);
    }

    private bool TakesBatches(InferenceSession session)
    {
        int side = Descriptor.InputSize;
        try
        {
            using var x = OrtValue.CreateTensorValueFromMemory(new float[2 * 3 * side * side], [2, 3, side, side]);
            using var outs = OnnxSessions.Run(session, InputName, x, EmbeddingName, FeatureMapName);
            var e = outs[0].GetTensorTypeAndShape().Shape;
            var m = outs[1].GetTensorTypeAndShape().Shape;
            return e.Length > 0 && e[0] == 2 && m.Length == 4 && m[0] == 2 && m[1] == MapShape[0] && m[2] == MapShape[1] && m[3] == MapShape[2];
        }
        catch (OnnxRuntimeException) { return false; }
    }

    /// <summary>Where the int8 form of <paramref name="onnxPath"/> lives: <c>NAME.int8.onnx</c> in the same folder.</summary>
    public static string Int8Path(string onnxPath) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(onnxPath))!, Path.GetFileNameWithoutExtension(onnxPath) + ".int8.onnx");

    /// <summary>Which form of the model runs the embedding.</summary>
    public OnnxPrecision Precision { get; }

    /// <summary>The descriptor in use.</summary>
    public FaceModelDescriptor Descriptor { get; }
    /// <summary>The model as loaded (with the map added as an output); its weights feed the weight-derived head.</summary>
    public OnnxModelFile Model { get; }
    /// <summary>ONNX input name that takes the aligned face tensor.</summary>
    public string InputName { get; }
    /// <summary>ONNX output name of the embedding.</summary>
    public string EmbeddingName { get; }
    /// <summary>ONNX value name of the last spatial feature map (from the descriptor, else found in the graph).</summary>
    public string FeatureMapName { get; }
    /// <summary>Map shape: channels, height, width.</summary>
    public int[] MapShape { get; }

    /// <summary>Embeds aligned faces (each InputSize x InputSize). Runs batches of up to <see cref="MaxBatch"/>, or face by face when the model's batch could not be made dynamic.</summary>
    public IReadOnlyList<FaceEmbedding> Embed(IReadOnlyList<RgbImage> faces)
    {
        ArgumentNullException.ThrowIfNull(faces);
        int side = Descriptor.InputSize, per = 3 * side * side;
        foreach (var (f, i) in faces.Select((f, i) => (f, i)))
            if (f.Width != side || f.Height != side) throw new ArgumentException($"face {i} is {f.Width}x{f.Height}; the model takes aligned {side}x{side} faces");
        var result = new List<FaceEmbedding>(faces.Count);
        int step = _fixedBatch ? 1 : Math.Clamp(faces.Count, 1, MaxBatch);
        for (int start = 0; start < faces.Count; start += step)
        {
            int n = Math.Min(step, faces.Count - start);
            var input = new float[n * per];
            for (int i = 0; i < n; i++) FaceTensor.ToChw(faces[start + i], input.AsSpan(i * per, per), _tensor);
            using var x = OrtValue.CreateTensorValueFromMemory(input, [n, 3, side, side]);
            using var ro = new RunOptions();
            using var outs = _session.Run(ro, [InputName], [x], [EmbeddingName, FeatureMapName]);
            var e = outs[0].GetTensorDataAsSpan<float>();
            var m = outs[1].GetTensorDataAsSpan<float>();
            int ed = e.Length / n, md = m.Length / n;
            for (int i = 0; i < n; i++) result.Add(new FaceEmbedding(e.Slice(i * ed, ed).ToArray(), m.Slice(i * md, md).ToArray()));
        }
        return result;
    }

    /// <summary>Embeds one aligned face.</summary>
    public FaceEmbedding Embed(RgbImage face) => Embed([face])[0];

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
