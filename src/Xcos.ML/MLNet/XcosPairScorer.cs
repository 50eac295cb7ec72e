using System.Globalization;
using System.Numerics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Onnx;
using Xcos.ML.Metrics;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.MLNet;

/// <summary>
/// Scores face pairs with the xCos pair head in an ML.NET pipeline: two grid columns (and face-code columns when
/// present) in; the xCos score, the patch cosine map, the attention map, the plain cosine and a predicted label out
/// (see <see cref="XcosPairScorerOptions"/>).
/// </summary>
/// <remarks>
/// <see cref="Fit"/> returns a chain of ML.NET's own transformers: <c>ApplyOnnxModel</c> (the pair head, with column
/// names as its value names and batch 1), a <c>CustomMapping</c> that turns the one-value score and cosine vectors
/// into scalars, <c>CopyColumns</c>/<c>DropColumns</c> for the names, and, for the predicted label, an <c>Expression</c>
/// <c>(s) =&gt; s &gt; threshold</c> that holds the threshold. So the model saves with <c>mlContext.Model.Save</c>;
/// before <c>mlContext.Model.Load</c>, call <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(XcosPairScorer).Assembly)</c>.
/// The threshold is the given one, or is chosen from the labelled pairs that Fit sees (<see cref="XcosThresholdSelection"/>);
/// "same" means score &gt; threshold, as in the verification protocol.
/// </remarks>
public sealed class XcosPairScorer : IEstimator<ITransformer>
{
    private const string GridMeaning = "the grid feature map of a face, e.g. the Grid column of XcosEmbedding";
    private const string CodeMeaning = "the attention face code of a face, e.g. the FaceCode column of XcosEmbedding";

    private readonly TransformsCatalog _catalog;
    private readonly XcosPairScorerOptions _options;
    private readonly ModelProto? _onnx;
    private readonly Dictionary<bool, Head> _heads = [];

    private sealed record Head(AdaptedOnnxModel Model, string[] Inputs, string[] Outputs, bool UsesCodes);

    /// <summary>Use <c>mlContext.Transforms.ScoreXcosPairs(options)</c>.</summary>
    /// <exception cref="ArgumentException">No model source or more than one, an empty column name, or a threshold that is not finite.</exception>
    public XcosPairScorer(TransformsCatalog catalog, XcosPairScorerOptions options)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        foreach (var (name, what) in new[] { (options.Grid1ColumnName, "Grid1ColumnName"), (options.Grid2ColumnName, "Grid2ColumnName"),
                     (options.ScoreColumnName, "ScoreColumnName"), (options.LabelColumnName, "LabelColumnName") })
            if (string.IsNullOrEmpty(name)) throw new ArgumentException($"XcosPairScorerOptions.{what} is required");
        if (options.Threshold is float t && !float.IsFinite(t))
            throw new ArgumentException($"XcosPairScorerOptions.Threshold must be finite, got {t}");
        if (options.Weights != null)
        {
            if (options.ModelBytes != null || options.ModelPath != null)
                throw new ArgumentException("XcosPairScorerOptions: give exactly one of ModelBytes, ModelPath or Weights");
        }
        else _onnx = XcosPipelineOnnx.Load(options.ModelBytes, options.ModelPath, "XcosPairScorerOptions");
        // Build the head now so that a bad model fails here rather than at Fit.
        HeadFor(codesPresent: _onnx != null && NeedsCodes(_onnx));
    }

    /// <summary>
    /// Scores <paramref name="input"/> with the pair head and chooses the threshold from its labels as
    /// <see cref="XcosPairScorerOptions.ThresholdSelection"/> says (what Fit does when no threshold is given).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A grid or label column is missing or has the wrong type.</exception>
    /// <exception cref="ArgumentException">Too few pairs for the protocol (<see cref="XcosThresholdSelection.MeanFoldThreshold"/>) or a NaN score.</exception>
    public float ChooseThreshold(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        XcosPipelineColumns.CheckScalar(input.Schema, "Label", _options.LabelColumnName, BooleanDataViewType.Instance);
        var head = CheckInputs(input.Schema);
        return Choose(Scores(head).Fit(input).Transform(input));
    }

    /// <summary>Checks the input columns, fits the pair head and, for the predicted label, the threshold.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A grid, face-code or label column is missing or has the wrong type (the message names it).</exception>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var head = CheckInputs(input.Schema);
        var onnx = Scores(head).Fit(input);
        if (_options.PredictedLabelColumnName == null) return onnx;
        float threshold;
        if (_options.Threshold is float given) threshold = given;
        else
        {
            CheckLabel(input.Schema);
            threshold = Choose(onnx.Transform(input));
        }
        var scored = onnx.Transform(input);
        var label = Label(threshold).Fit(scored);
        return new TransformerChain<ITransformer>(onnx, label);
    }

    /// <summary>The schema after the transform, after checking the input columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        bool codes = UseCodes(n => XcosPipelineColumns.Has(inputSchema, n));
        var head = HeadFor(codes);
        foreach (var column in head.Inputs)
            XcosPipelineColumns.CheckVector(inputSchema, Role(column), column, head.Model.InputSizes[column].Count, Meaning(column));
        var shape = Scores(head).GetOutputSchema(inputSchema);
        if (_options.PredictedLabelColumnName == null) return shape;
        if (_options.Threshold == null)
            XcosPipelineColumns.CheckScalar(inputSchema, "Label", _options.LabelColumnName, BooleanDataViewType.Instance);
        // The schema does not depend on the threshold's value.
        return Label(_options.Threshold ?? 0f).GetOutputSchema(shape);
    }

    /// <summary>The expression text of the predicted-label stage for <paramref name="threshold"/>.</summary>
    public static string LabelExpression(float threshold) => $"(s) => s > {ExactDecimal(threshold)}";

    private IEstimator<ITransformer> Label(float threshold) =>
        _catalog.Expression(_options.PredictedLabelColumnName!, LabelExpression(threshold), _options.ScoreColumnName);

    private void CheckLabel(DataViewSchema schema)
    {
        var col = schema.GetColumnOrNull(_options.LabelColumnName);
        if (col == null)
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Label column '{_options.LabelColumnName}' not found; expected a scalar Boolean (same identity) to choose the threshold from. " +
                "Give XcosPairScorerOptions.Threshold, or set PredictedLabelColumnName to null to score without a label");
        XcosPipelineColumns.CheckScalar(schema, "Label", _options.LabelColumnName, BooleanDataViewType.Instance);
    }

    private float Choose(IDataView scored)
    {
        var scores = scored.GetColumn<float>(_options.ScoreColumnName).ToArray();
        var same = scored.GetColumn<bool>(_options.LabelColumnName).ToArray();
        if (scores.Length == 0) throw new ArgumentException("no labelled pairs to choose the threshold from");
        double t = _options.ThresholdSelection switch
        {
            XcosThresholdSelection.BestAccuracy => VerificationMetrics.BestThreshold(scores, same, _options.Verification.BuildThresholds()).Threshold,
            XcosThresholdSelection.MeanFoldThreshold => VerificationMetrics.KFold(scores, same, _options.Verification).ThresholdMean,
            _ => throw new ArgumentOutOfRangeException(nameof(XcosPairScorerOptions.ThresholdSelection), _options.ThresholdSelection, "unknown threshold selection"),
        };
        return (float)t;
    }

    private Head CheckInputs(DataViewSchema schema)
    {
        var head = HeadFor(UseCodes(n => XcosPipelineColumns.Has(schema, n)));
        foreach (var column in head.Inputs)
            XcosPipelineColumns.CheckVector(schema, Role(column), column, head.Model.InputSizes[column].Count, Meaning(column));
        return head;
    }

    private string Role(string column) =>
        column == _options.Grid1ColumnName ? "Grid 1" : column == _options.Grid2ColumnName ? "Grid 2"
        : column == _options.FaceCode1ColumnName ? "Face code 1" : "Face code 2";

    private string Meaning(string column) =>
        column == _options.Grid1ColumnName || column == _options.Grid2ColumnName ? GridMeaning : CodeMeaning;

    // With weights the face-code columns are used when both are there; an ONNX head dictates by its inputs.
    private bool UseCodes(Func<string?, bool> has) =>
        _onnx != null ? NeedsCodes(_onnx) : has(_options.FaceCode1ColumnName) && has(_options.FaceCode2ColumnName);

    private static bool NeedsCodes(ModelProto model) => XcosPipelineOnnx.DataInputs(model).Contains(XcosOnnxExport.Code1Input);

    // ApplyOnnxModel, the vector-to-scalar mapping, copies to the user's names, and the internal columns dropped.
    private IEstimator<ITransformer> Scores(Head head)
    {
        var o = _options;
        IEstimator<ITransformer> chain = _catalog.ApplyOnnxModel(head.Outputs, head.Inputs,
            new MemoryStream(head.Model.Bytes, writable: false), o.GpuDeviceId, o.FallbackToCpu);
        chain = chain.Append(_catalog.CustomMapping<XcosPairVectors, XcosPairScalars>(XcosPairScalarsFactory.Map, XcosPairScalarsFactory.ContractName));
        chain = chain.Append(_catalog.CopyColumns(o.ScoreColumnName, XcosPairScoringColumns.Score));
        if (o.CosineColumnName != null) chain = chain.Append(_catalog.CopyColumns(o.CosineColumnName, XcosPairScoringColumns.Cosine));
        return chain.Append(_catalog.DropColumns(XcosPairScoringColumns.ScoreVector, XcosPairScoringColumns.CosineVector,
            XcosPairScoringColumns.Score, XcosPairScoringColumns.Cosine));
    }

    private Head HeadFor(bool codesPresent)
    {
        lock (_heads)
        {
            if (_heads.TryGetValue(codesPresent, out var cached)) return cached;
            var o = _options;
            ModelProto model = _onnx ?? XcosOnnxExport.BuildPairHeadModel(o.Weights!, WithInputs(o.ExportOptions,
                codesPresent ? XcosPairHeadInputs.GridsAndFaceCodes : XcosPairHeadInputs.Grids));
            var inputs = new Dictionary<string, string> { [XcosOnnxExport.Grid1Input] = o.Grid1ColumnName, [XcosOnnxExport.Grid2Input] = o.Grid2ColumnName };
            if (codesPresent)
            {
                if (string.IsNullOrEmpty(o.FaceCode1ColumnName) || string.IsNullOrEmpty(o.FaceCode2ColumnName))
                    throw new ArgumentException("XcosPairScorerOptions: the ONNX pair head takes face codes (inputs code1, code2), so FaceCode1ColumnName and FaceCode2ColumnName are required");
                inputs[XcosOnnxExport.Code1Input] = o.FaceCode1ColumnName;
                inputs[XcosOnnxExport.Code2Input] = o.FaceCode2ColumnName;
            }
            var outputs = new List<OnnxOutputSpec>
            {
                new(XcosOnnxExport.ScoreOutput, XcosPairScoringColumns.ScoreVector),
                new(XcosOnnxExport.CosineOutput, XcosPairScoringColumns.CosineVector),
            };
            if (o.CosineMapColumnName != null) outputs.Add(new(XcosOnnxExport.CosMapOutput, o.CosineMapColumnName));
            if (o.AttentionColumnName != null) outputs.Add(new(XcosOnnxExport.AttentionOutput, o.AttentionColumnName));
            var userColumns = new[] { o.ScoreColumnName, o.CosineMapColumnName, o.AttentionColumnName, o.CosineColumnName, o.PredictedLabelColumnName }
                .Concat(inputs.Values).Where(c => c != null).ToList();
            var twice = userColumns.GroupBy(c => c).FirstOrDefault(x => x.Count() > 1);
            if (twice != null) throw new ArgumentException($"XcosPairScorerOptions: column name '{twice.Key}' is used twice");
            var adapted = XcosPipelineOnnx.Adapt(model, inputs, outputs, "xCos pair-head model");
            var head = new Head(adapted, inputs.Values.ToArray(), outputs.Select(x => x.ColumnName).ToArray(), codesPresent);
            _heads[codesPresent] = head;
            return head;
        }
    }

    private static XcosOnnxExportOptions WithInputs(XcosOnnxExportOptions o, XcosPairHeadInputs inputs) => new()
    {
        FoldBatchNorm = o.FoldBatchNorm, BatchNormEpsilon = o.BatchNormEpsilon, Temperature = o.Temperature,
        IncludeTargetEmbedding = o.IncludeTargetEmbedding, IncludeFaceCode = o.IncludeFaceCode,
        BatchDimName = o.BatchDimName, PairHeadInputs = inputs,
    };

    /// <summary>
    /// The exact decimal value of <paramref name="value"/> (a float has a finite decimal expansion), so the expression
    /// compares with the very same number whether its literal is read as Single or Double.
    /// </summary>
    internal static string ExactDecimal(float value)
    {
        if (value == 0) return "0.0";
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs((double)value));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent = 1; else mantissa |= 1L << 52;
        exponent -= 1075;
        string sign = value < 0 ? "-" : "";
        // value = mantissa * 2^exponent
        if (exponent >= 0) return sign + (new BigInteger(mantissa) << exponent).ToString(CultureInfo.InvariantCulture) + ".0";
        int places = -exponent;
        string digits = (new BigInteger(mantissa) * BigInteger.Pow(5, places)).ToString(CultureInfo.InvariantCulture).PadLeft(places + 1, '0');
        string frac = digits[^places..].TrimEnd('0');
        return sign + digits[..^places] + "." + (frac.Length == 0 ? "0" : frac);
    }
}
