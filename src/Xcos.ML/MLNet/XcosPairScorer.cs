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
/// Scores face pairs with the xCos pair head in an ML.NET pipeline: two grid columns (and face-code, target-embedding and
/// face-status columns when present) in; in ML.NET's binary-classification convention <c>Score</c> (the margin
/// <c>Xcos - threshold</c>), <c>PredictedLabel</c> (<c>Score &gt; 0</c>) and <c>Probability</c> (Platt), next to the raw
/// <c>Xcos</c>, the <c>Cosine</c> xCos follows, the <c>GridCosine</c>, and the <c>CosineMap</c> and <c>Attention</c> maps
/// (see <see cref="XcosPairScorerOptions"/>).
/// </summary>
/// <remarks>
/// <see cref="Fit"/> returns a chain of ML.NET's own transformers: <c>ApplyOnnxModel</c> (the pair head; its column
/// names are its value names), <c>CustomMapping</c>s that turn the one-value score vectors into scalars,
/// <c>CopyColumns</c>/<c>DropColumns</c> for the names, and <c>Expression</c>s that hold the threshold and the Platt
/// coefficients. So the model saves with <c>mlContext.Model.Save</c>. The threshold is the given one, or is chosen from
/// the labelled pairs that Fit sees (<see cref="XcosThresholdSelection"/>; rows whose faces are not ok are left out).
/// A row whose faces are not both ok has Score and Probability NaN and PredictedLabel false: ML.NET's evaluators skip
/// rows with a NaN score, and <c>EvaluateVerification</c> lists them.
/// </remarks>
public sealed class XcosPairScorer : IEstimator<ITransformer>
{
    private const string GridMeaning = "the grid feature map of a face, e.g. the Grid column of XcosEmbedding";
    private const string CodeMeaning = "the attention face code of a face, e.g. the FaceCode column of XcosEmbedding";
    private const string TargetMeaning = "the target embedding of a face, e.g. the TargetEmbedding column of XcosEmbedding";
    private const string TargetCosine = "Xcos.Pair.TargetCosine";

    private readonly TransformsCatalog _catalog;
    private readonly XcosPairScorerOptions _options;
    private readonly ModelProto? _onnx;
    private readonly Dictionary<(bool Codes, long TargetDims), Head> _heads = [];

    private sealed record Head(AdaptedOnnxModel Model, string[] Inputs, string[] Outputs, bool UsesCodes, bool UsesTargets);

    /// <summary>Use <c>mlContext.Transforms.ScoreXcosPairs(options)</c>.</summary>
    /// <exception cref="ArgumentException">No model source or more than one, an empty column name, or a threshold that is not finite.</exception>
    public XcosPairScorer(TransformsCatalog catalog, XcosPairScorerOptions options)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        foreach (var (name, what) in new[] { (options.Grid1ColumnName, "Grid1ColumnName"), (options.Grid2ColumnName, "Grid2ColumnName"),
                     (options.ScoreColumnName, "ScoreColumnName"), (options.XcosColumnName, "XcosColumnName"), (options.LabelColumnName, "LabelColumnName") })
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
        HeadFor(codesPresent: _onnx != null && NeedsCodes(_onnx), targetDims: 0);
    }

    /// <summary>
    /// Scores <paramref name="input"/> with the pair head and chooses the threshold on the raw xCos from its labels as
    /// <see cref="XcosPairScorerOptions.ThresholdSelection"/> says (what Fit does when no threshold is given).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A grid or label column is missing or has the wrong type.</exception>
    /// <exception cref="ArgumentException">No scorable labelled pairs, or too few for the protocol (<see cref="XcosThresholdSelection.MeanFoldThreshold"/>).</exception>
    public float ChooseThreshold(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        XcosPipelineColumns.CheckScalar(input.Schema, "Label", _options.LabelColumnName, BooleanDataViewType.Instance);
        var head = CheckInputs(input.Schema);
        var stages = Stages;
        var (xcos, same) = stages.Labelled(Scores(head).Fit(input).Transform(input), stages.Gated(n => XcosPipelineColumns.Has(input.Schema, n)));
        return stages.Choose(xcos, same);
    }

    /// <summary>Checks the input columns, fits the pair head and, for the decision, the threshold and the Platt calibrator.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A grid, face-code, target or label column is missing or has the wrong type (the message names it).</exception>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var head = CheckInputs(input.Schema);
        var scores = Scores(head).Fit(input);
        var scored = scores.Transform(input);
        var stages = Stages;
        bool gated = stages.Gated(n => XcosPipelineColumns.Has(input.Schema, n));
        bool labelled = XcosPipelineColumns.Has(input.Schema, _options.LabelColumnName);
        double[]? xcos = null;
        bool[]? same = null;
        if (labelled)
        {
            CheckLabel(input.Schema);
            (xcos, same) = stages.Labelled(scored, gated);
        }
        else if (_options.Threshold is null) CheckLabel(input.Schema);
        // a checkpoint has no calibrated threshold of its own: without a given one it is chosen on the labels, however few
        var (threshold, source) = stages.Resolve(_options.Threshold, xcos, same, calibrated: null, calibratedFrom: "");
        var platt = labelled && _options.ProbabilityColumnName != null ? DecisionStages.Calibrate(xcos!, same!, threshold) : null;
        var decision = stages.Build(_catalog, gated, threshold, platt, source).Fit(scored);
        return new TransformerChain<ITransformer>(scores, decision);
    }

    /// <summary>The schema after the transform, after checking the input columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var head = HeadFor(UseCodes(n => XcosPipelineColumns.Has(inputSchema, n)), UseTargets(n => XcosPipelineColumns.Has(inputSchema, n)) ? -1 : 0);
        foreach (var column in head.Inputs)
            XcosPipelineColumns.CheckVector(inputSchema, Role(column), column, head.Model.InputSizes[column].Count, Meaning(column));
        var shape = Scores(head).GetOutputSchema(inputSchema);
        bool labelled = XcosPipelineColumns.Has(inputSchema, _options.LabelColumnName);
        if (_options.Threshold == null)
            XcosPipelineColumns.CheckScalar(inputSchema, "Label", _options.LabelColumnName, BooleanDataViewType.Instance);
        // The schema does not depend on the threshold's or the calibrator's values.
        var platt = labelled ? new PlattCalibration(-1, 0) : null;
        var stages = Stages;
        return stages.Build(_catalog, stages.Gated(n => XcosPipelineColumns.Has(inputSchema, n)), 0f, platt, "").GetOutputSchema(shape);
    }

    /// <summary>The expression text of the predicted-label stage (a margin above 0; NaN is never above).</summary>
    public static string LabelExpression() => "(m) => m > 0";

    /// <summary>The expression text of the margin stage: the score minus <paramref name="threshold"/>, NaN when a face is not ok.</summary>
    public static string MarginExpression(float threshold, bool gated) => gated
        ? $"(x, a, b) => a == \"ok\" and b == \"ok\" ? x - {ExactDecimal(threshold)} : na(x)"
        : $"(x) => x - {ExactDecimal(threshold)}";

    /// <summary>The expression text of the Platt probability stage.</summary>
    public static string ProbabilityExpression(PlattCalibration platt)
    {
        ArgumentNullException.ThrowIfNull(platt);
        return $"(m) => 1 / (1 + exp({ExactDecimal((float)platt.A)} * m + {ExactDecimal((float)platt.B)}))";
    }

    private DecisionStages Stages => new(_options.XcosColumnName, _options.ScoreColumnName, _options.PredictedLabelColumnName,
        _options.ProbabilityColumnName, _options.LabelColumnName, _options.Status1ColumnName, _options.Status2ColumnName,
        _options.ThresholdSelection, _options.Verification)
    {
        Gate = new[] { _options.XcosColumnName, _options.CosineColumnName, _options.GridCosineColumnName, _options.CosineMapColumnName, _options.AttentionColumnName }
            .OfType<string>().ToArray(),
    };

    private void CheckLabel(DataViewSchema schema)
    {
        var col = schema.GetColumnOrNull(_options.LabelColumnName);
        if (col == null)
            throw new ArgumentOutOfRangeException(nameof(schema),
                $"Label column '{_options.LabelColumnName}' not found; expected a scalar Boolean (same identity) to choose the threshold from. " +
                "Give XcosPairScorerOptions.Threshold to score without labels");
        XcosPipelineColumns.CheckScalar(schema, "Label", _options.LabelColumnName, BooleanDataViewType.Instance);
    }

    private Head CheckInputs(DataViewSchema schema)
    {
        long targetDims = 0;
        if (UseTargets(n => XcosPipelineColumns.Has(schema, n)))
        {
            var t = schema[_options.TargetEmbedding1ColumnName!].Type as VectorDataViewType
                ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Target embedding 1 column '{_options.TargetEmbedding1ColumnName}' has type {schema[_options.TargetEmbedding1ColumnName!].Type}; expected a vector of Single ({TargetMeaning})");
            targetDims = t.Size;
        }
        var head = HeadFor(UseCodes(n => XcosPipelineColumns.Has(schema, n)), targetDims);
        foreach (var column in head.Inputs)
            XcosPipelineColumns.CheckVector(schema, Role(column), column, head.Model.InputSizes[column].Count, Meaning(column));
        if (Stages.Gated(n => XcosPipelineColumns.Has(schema, n)))
        {
            XcosPipelineColumns.CheckScalar(schema, "Face status 1", _options.Status1ColumnName!, TextDataViewType.Instance);
            XcosPipelineColumns.CheckScalar(schema, "Face status 2", _options.Status2ColumnName!, TextDataViewType.Instance);
        }
        return head;
    }

    private string Role(string column) =>
        column == _options.Grid1ColumnName ? "Grid 1" : column == _options.Grid2ColumnName ? "Grid 2"
        : column == _options.FaceCode1ColumnName ? "Face code 1" : column == _options.FaceCode2ColumnName ? "Face code 2"
        : column == _options.TargetEmbedding1ColumnName ? "Target embedding 1" : "Target embedding 2";

    private string Meaning(string column) =>
        column == _options.Grid1ColumnName || column == _options.Grid2ColumnName ? GridMeaning
        : column == _options.FaceCode1ColumnName || column == _options.FaceCode2ColumnName ? CodeMeaning : TargetMeaning;

    // With weights the face-code columns are used when both are there; an ONNX head dictates by its inputs.
    private bool UseCodes(Func<string?, bool> has) =>
        _onnx != null ? NeedsCodes(_onnx) : has(_options.FaceCode1ColumnName) && has(_options.FaceCode2ColumnName);

    private bool UseTargets(Func<string?, bool> has) => has(_options.TargetEmbedding1ColumnName) && has(_options.TargetEmbedding2ColumnName);

    private static bool NeedsCodes(ModelProto model) => XcosPipelineOnnx.DataInputs(model).Contains(XcosOnnxExport.Code1Input);

    // ApplyOnnxModel, the vector-to-scalar mappings, copies to the user's names, and the internal columns dropped.
    private IEstimator<ITransformer> Scores(Head head)
    {
        var o = _options;
        IEstimator<ITransformer> chain = _catalog.ApplyOnnxModel(head.Outputs, head.Inputs,
            new MemoryStream(head.Model.Bytes, writable: false), OnnxGpu.Resolve(o.GpuDeviceId, o.FallbackToCpu, nameof(XcosPairScorer)), o.FallbackToCpu);
        chain = chain.Append(_catalog.CustomMapping<XcosPairVectors, XcosPairScalars>(XcosPairScalarsFactory.Map, XcosPairScalarsFactory.ContractName));
        var drop = new List<string> { XcosPairScoringColumns.ScoreVector, XcosPairScoringColumns.CosineVector, XcosPairScoringColumns.Score, XcosPairScoringColumns.Cosine };
        chain = chain.Append(_catalog.CopyColumns(o.XcosColumnName, XcosPairScoringColumns.Score));
        if (o.GridCosineColumnName != null) chain = chain.Append(_catalog.CopyColumns(o.GridCosineColumnName, XcosPairScoringColumns.Cosine));
        if (head.UsesTargets)
        {
            chain = chain.Append(ScalarOf(TargetCosine, out var scalar));
            drop.AddRange([TargetCosine, scalar]);
            if (o.CosineColumnName != null) chain = chain.Append(_catalog.CopyColumns(o.CosineColumnName, scalar));
        }
        else if (o.CosineColumnName != null) chain = chain.Append(_catalog.CopyColumns(o.CosineColumnName, XcosPairScoringColumns.Cosine));
        return chain.Append(_catalog.DropColumns(drop.ToArray()));
    }

    // The one value of a [1] vector column as a scalar column (ML.NET 5.0.1 cannot take rank-0 ONNX outputs).
    private IEstimator<ITransformer> ScalarOf(string vectorColumn, out string scalarColumn)
    {
        scalarColumn = SingleValueColumns.Output;
        return _catalog.CopyColumns(SingleValueColumns.Input, vectorColumn)
            .Append(_catalog.CustomMapping<SingleValueVector, SingleValueScalar>(SingleValueFactory.Map, SingleValueFactory.ContractName))
            .Append(_catalog.DropColumns(SingleValueColumns.Input));
    }

    private Head HeadFor(bool codesPresent, long targetDims)
    {
        lock (_heads)
        {
            if (_heads.TryGetValue((codesPresent, targetDims), out var cached)) return cached;
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
            if (targetDims != 0)
            {
                // The target cosine joins the head's graph, so one ONNX stage computes every number of the pair.
                model = XcosPipelineOnnx.WithCosine(model, XcosPipelineOnnx.Target1Input, XcosPipelineOnnx.Target2Input, Math.Max(targetDims, 1), XcosPipelineOnnx.TargetCosineOutput);
                inputs[XcosPipelineOnnx.Target1Input] = o.TargetEmbedding1ColumnName!;
                inputs[XcosPipelineOnnx.Target2Input] = o.TargetEmbedding2ColumnName!;
                outputs.Add(new(XcosPipelineOnnx.TargetCosineOutput, TargetCosine));
            }
            if (o.CosineMapColumnName != null) outputs.Add(new(XcosOnnxExport.CosMapOutput, o.CosineMapColumnName));
            if (o.AttentionColumnName != null) outputs.Add(new(XcosOnnxExport.AttentionOutput, o.AttentionColumnName));
            var userColumns = new[] { o.ScoreColumnName, o.XcosColumnName, o.CosineMapColumnName, o.AttentionColumnName, o.CosineColumnName,
                    o.GridCosineColumnName, o.PredictedLabelColumnName, o.ProbabilityColumnName }
                .Concat(inputs.Values).Where(c => c != null).ToList();
            var twice = userColumns.GroupBy(c => c).FirstOrDefault(x => x.Count() > 1);
            if (twice != null) throw new ArgumentException($"XcosPairScorerOptions: column name '{twice.Key}' is used twice");
            var adapted = XcosPipelineOnnx.Adapt(model, inputs, outputs, "xCos pair-head model");
            var head = new Head(adapted, inputs.Values.ToArray(), outputs.Select(x => x.ColumnName).ToArray(), codesPresent, targetDims != 0);
            _heads[(codesPresent, targetDims)] = head;
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
