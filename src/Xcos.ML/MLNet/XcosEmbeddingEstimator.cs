using Microsoft.ML;
using Microsoft.ML.Transforms.Onnx;
using Xcos.ML.FaceModels;
using Xcos.ML.Images;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.MLNet;

/// <summary>
/// Computes xCos face features in an ML.NET pipeline with an already trained model: the normalised CHW face tensor
/// (e.g. from <c>AlignFaces</c>) in; the grid feature map, the flattened L2-normalised embedding, the attention
/// face code and the ArcFace target embedding out (see <see cref="XcosEmbeddingOptions"/>).
/// </summary>
/// <remarks>
/// <see cref="Fit"/> returns ML.NET's own <c>OnnxTransformer</c> (from <c>ApplyOnnxModel</c>), so the fitted model
/// saves with <c>mlContext.Model.Save</c>, the ONNX bytes inside the .zip, and loads without this assembly's help.
/// The ONNX graph is adapted first: its input and outputs take the column names, its batch dimension is fixed to 1,
/// and the parts no requested output needs are removed (a model without a target-embedding column does not carry
/// the target backbone). Fitting learns nothing; it checks the input column.
/// </remarks>
public sealed class XcosEmbeddingEstimator : IEstimator<ITransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly XcosEmbeddingOptions _options;
    private readonly AdaptedOnnxModel _model;
    private readonly string[] _outputs;
    private readonly string[] _inputColumns;
    private readonly long _inputCount;
    private readonly string _inputMeaning;

    /// <summary>Use <c>mlContext.Transforms.XcosEmbedding(options)</c>.</summary>
    /// <exception cref="ArgumentException">No model source or more than one, an empty input column name, no output column, or clashing names.</exception>
    /// <exception cref="InvalidDataException">The ONNX model lacks the <c>image</c> input or a requested <c>grid</c> / <c>embedding</c> output.</exception>
    public XcosEmbeddingEstimator(TransformsCatalog catalog, XcosEmbeddingOptions options) : this(catalog, options, null) { }

    /// <summary>
    /// One stage that embeds both faces of a pair: the columns of <paramref name="options"/> with the suffixes "1" and "2"
    /// (e.g. FaceTensor1, FaceTensor2 to Grid1, Grid2). The model's nodes run once per face but its weights are stored
    /// once, so a saved pipeline holds each network one time.
    /// </summary>
    public static XcosEmbeddingEstimator ForPair(TransformsCatalog catalog, XcosEmbeddingOptions options) => new(catalog, options, ["1", "2"]);

    private XcosEmbeddingEstimator(TransformsCatalog catalog, XcosEmbeddingOptions options, string[]? pairFaces)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (string.IsNullOrEmpty(options.InputColumnName)) throw new ArgumentException("XcosEmbeddingOptions.InputColumnName is required");
        var source = LoadModel(options);
        if (options.Precision == OnnxPrecision.Int8 && !OnnxQuantizer.IsQuantized(source))
        {
            var faces = options.CalibrationFaces ?? FaceModelQuantizer.SyntheticFaces(XcosEmbeddingOptions.DefaultCalibrationFaces);
            string what = options.CalibrationFaces is null ? FaceModelQuantizer.SyntheticDescription(faces.Count) : $"{faces.Count} faces given in XcosEmbeddingOptions.CalibrationFaces";
            source = OnnxQuantizer.Quantize(source, FaceModelQuantizer.Feeds(faces, XcosOnnxExport.ImageInput, new FaceTensorOptions()),
                new OnnxQuantizerOptions { CalibrationDescription = what }).Model;
        }
        var available = XcosPipelineOnnx.Outputs(source);
        var outputs = new List<OnnxOutputSpec>();
        void Add(string onnx, string? column, bool optional)
        {
            if (column == null) return;
            if (column.Length == 0) throw new ArgumentException($"XcosEmbeddingOptions: the column name for '{onnx}' is empty; use null to leave it out");
            if (optional && !available.Contains(onnx)) return;
            outputs.Add(new OnnxOutputSpec(onnx, column));
        }
        Add(XcosOnnxExport.GridOutput, options.GridColumnName, optional: false);
        Add(XcosOnnxExport.EmbeddingOutput, options.EmbeddingColumnName, optional: false);
        Add(XcosOnnxExport.FaceCodeOutput, options.FaceCodeColumnName, optional: true);
        Add(XcosOnnxExport.TargetEmbeddingOutput, options.TargetEmbeddingColumnName, optional: true);
        if (outputs.Count == 0) throw new ArgumentException("XcosEmbeddingOptions: every output column name is null; nothing to compute");
        var inputs = new Dictionary<string, string> { [XcosOnnxExport.ImageInput] = options.InputColumnName };
        if (pairFaces != null)
        {
            source = XcosPipelineOnnx.Twin(source, pairFaces);
            inputs = pairFaces.ToDictionary(f => XcosPipelineOnnx.TwinName(XcosOnnxExport.ImageInput, f), f => options.InputColumnName + f);
            outputs = pairFaces.SelectMany(f => outputs.Select(o => new OnnxOutputSpec(XcosPipelineOnnx.TwinName(o.OnnxName, f), o.ColumnName + f))).ToList();
        }
        _inputColumns = inputs.Values.ToArray();
        _model = XcosPipelineOnnx.Adapt(source, inputs, outputs, "xCos embedding model");
        _outputs = outputs.Select(o => o.ColumnName).ToArray();
        var (count, shape) = _model.InputSizes[_inputColumns[0]];
        _inputCount = count;
        _inputMeaning = $"the model input {shape}: a normalised CHW face tensor, e.g. the FaceTensor column of AlignFaces";
    }

    /// <summary>The output columns this estimator adds, in model order.</summary>
    public IReadOnlyList<string> OutputColumnNames => _outputs;

    /// <summary>The adapted ONNX model that the fitted transformer runs (and the saved .zip holds).</summary>
    public byte[] GetAdaptedModel() => (byte[])_model.Bytes.Clone();

    /// <summary>Checks the input column and returns the fitted ONNX transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or is not a vector of 3 x 112 x 112 Single (the message names it).</exception>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        foreach (var c in _inputColumns) XcosPipelineColumns.CheckVector(input.Schema, "Face tensor", c, _inputCount, _inputMeaning);
        return Onnx().Fit(input);
    }

    /// <summary>The schema after the transform, after checking the input column.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        foreach (var c in _inputColumns) XcosPipelineColumns.CheckVector(inputSchema, "Face tensor", c, _inputCount, _inputMeaning);
        return Onnx().GetOutputSchema(inputSchema);
    }

    private OnnxScoringEstimator Onnx() => _catalog.ApplyOnnxModel(_outputs, _inputColumns,
        new MemoryStream(_model.Bytes, writable: false), OnnxGpu.Resolve(_options.GpuDeviceId, _options.FallbackToCpu, nameof(XcosEmbeddingEstimator)), _options.FallbackToCpu);

    private static ModelProto LoadModel(XcosEmbeddingOptions o)
    {
        if (o.Weights != null)
        {
            if (o.ModelBytes != null || o.ModelPath != null)
                throw new ArgumentException("XcosEmbeddingOptions: give exactly one of ModelBytes, ModelPath or Weights");
            return XcosOnnxExport.BuildEmbeddingModel(o.Weights, o.ExportOptions);
        }
        return XcosPipelineOnnx.Load(o.ModelBytes, o.ModelPath, "XcosEmbeddingOptions");
    }
}
