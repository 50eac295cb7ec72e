using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Alignment;
using Xcos.ML.Explain;
using Xcos.ML.FaceModels;
using Xcos.ML.Heads;
using Xcos.ML.Metrics;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using Xcos.ML.Verification;

namespace Xcos.ML.MLNet;

/// <summary>
/// Raw photographs to an explained decision as one ML.NET estimator (<c>mlContext.Transforms.VerifyFacePairs</c> with
/// <see cref="FacePhotoPipelineOptions"/>): read each photo, detect and align its primary face (fr_detect.onnx +
/// fr_landmark.onnx), embed it with the face model, and explain the model's own cosine, which decides.
/// </summary>
/// <remarks>
/// Every network runs in an <c>ApplyOnnxModel</c> stage holding its bytes, so the saved .zip needs no models folder; each
/// is stored once (one stage embeds both faces with shared weights). Between them, stateless <c>CustomMapping</c>s
/// (<see cref="FaceDetectionMapping"/>) and <c>Expression</c>s (threshold, calibrator, statuses). Output columns are
/// those of <see cref="XcosPipeline"/>, with <c>Cosine</c> the face model's cosine (the decision: <c>Score = Cosine -
/// threshold</c>), <c>Xcos</c> the explanation's score, and <c>Contributions</c> each cell's exact share of the cosine.
/// A descriptor that says <c>"decides": "xcos"</c> with the learned head makes <c>Xcos</c> decide (<c>Score = Xcos -
/// xcos_threshold</c>); a two-branch model (learned head on a fine-tuned map, the original embedding) has no
/// <c>Contributions</c> column, as its map does not feed its embedding.
/// </remarks>
internal sealed class FacePhotoPipeline : IEstimator<ITransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly FacePhotoPipelineOptions _options;
    private readonly FaceModelDescriptor _descriptor;
    private readonly byte[] _detect, _landmark, _embedder;
    private readonly byte[]? _head, _learned;
    private readonly string _embeddingInput, _embeddingOutput, _mapOutput;
    private readonly int _embeddingDim;

    public FacePhotoPipeline(TransformsCatalog catalog, FacePhotoPipelineOptions options)
    {
        _catalog = catalog;
        _options = options;
        _descriptor = options.FaceModel ?? throw new ArgumentException("FacePhotoPipelineOptions.FaceModel is null: give the face model, e.g. FaceModelDescriptor.FrFeature()", nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.PhotoCacheCapacity, "FacePhotoPipelineOptions.PhotoCacheCapacity");
        _descriptor.Validate($"face model '{_descriptor.Name}'");
        if (_descriptor.InputSize != ArcFaceTemplate.Size)
            throw new ArgumentException($"face model '{_descriptor.Name}' takes {_descriptor.InputSize}x{_descriptor.InputSize} faces; the pipeline aligns onto the {ArcFaceTemplate.Size}x{ArcFaceTemplate.Size} ArcFace template");
        string dir = ModelStore.ResolveDirectory(options.ModelsDirectory);
        string Need(string file)
        {
            var p = Path.Combine(dir, file);
            return File.Exists(p) ? p : throw new FileNotFoundException($"{p} not found: run `xcos models fetch`, or set FacePhotoPipelineOptions.ModelsDirectory (or {ModelStore.EnvironmentVariable})", p);
        }
        _detect = File.ReadAllBytes(Need("fr_detect.onnx"));
        _landmark = File.ReadAllBytes(Need("fr_landmark.onnx"));
        string descriptorDir = options.FaceModelDirectory ?? Path.GetDirectoryName(FaceModelDescriptor.ShippedPath(_descriptor.Name))!;
        // a fine-tuned model is assembled from the fetched base model and the tail beside its descriptor
        using var embedder = new OnnxFaceEmbedder(_descriptor, _descriptor.OnnxPath(dir, Path.Combine(descriptorDir, "descriptor.json")), intraOpThreads: 1);
        _embeddingInput = embedder.InputName;
        _embeddingOutput = embedder.EmbeddingName;
        _mapOutput = embedder.FeatureMapName;
        int dims = _embeddingDim = embedder.Embed(new Images.RgbImage(_descriptor.InputSize, _descriptor.InputSize)).Embedding.Length;
        var model = embedder.Model.Model.Clone();
        SetShape(model, _mapOutput, [1, .. embedder.MapShape.Select(v => (long)v)]);
        SetShape(model, _embeddingOutput, [1, dims]);
        _embedder = model.ToByteArray();

        if (options.Xcos is not (XcosVariant.Weights or XcosVariant.Learned))
            throw new ArgumentException($"xcos variant \"{options.Xcos.ToText()}\" is not available for ONNX face models; use weights or learned");
        // null for a two-branch learned-xCos model (its map does not feed its embedding): the learned head explains alone
        var xcos = XcosHeadFactory.TryCreateWeightDerived(_descriptor, embedder, Path.Combine(descriptorDir, "descriptor.json"), options.Xcos);
        _head = xcos is null ? null : WeightDerivedXcosOnnx.Build(xcos).ToByteArray();
        if (options.Xcos == XcosVariant.Learned)
        {
            var path = options.LearnedHeadPath ?? LearnedHead.NextTo(Path.Combine(descriptorDir, "descriptor.json"))
                ?? throw new FileNotFoundException($"no learned xCos head for '{_descriptor.Name}' in {descriptorDir} ({LearnedHead.DefaultFileName}); set FacePhotoPipelineOptions.LearnedHeadPath");
            using (var check = new LearnedHead(path)) check.CheckFits(_descriptor, embedder.MapShape[0]);
            _learned = File.ReadAllBytes(path);
        }
    }

    private static void SetShape(ModelProto model, string output, long[] dims)
    {
        var o = model.Graph.Output.First(v => v.Name == output);
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        o.Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } };
    }

    // The deciding column: the learned xCos for a model whose descriptor decides by it (with the learned head), else the cosine.
    private string Deciding => _learned is not null && _descriptor.DecidesByXcos ? "Xcos" : "Cosine";

    private DecisionStages Stages => new(Deciding, "Score", "PredictedLabel", "Probability", _options.LabelColumnName,
        "FaceStatus1", "FaceStatus2", _options.ThresholdSelection, _options.Verification)
    {
        // a two-branch model has no weight-derived head, so no Contributions column
        Gate = _head is null ? ["Xcos", "Cosine", "CosineMap", "Attention"] : ["Xcos", "Cosine", "CosineMap", "Attention", "Contributions"],
    };

    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        XcosPipelineColumns.CheckScalar(input.Schema, "Image path 1", _options.ImagePath1ColumnName, TextDataViewType.Instance);
        XcosPipelineColumns.CheckScalar(input.Schema, "Image path 2", _options.ImagePath2ColumnName, TextDataViewType.Instance);
        // Fitting these stages reads only the schema; the photos are first read by the threshold pass below.
        var prepare = Prepare().Fit(input);
        var faces = new TransformerChain<ITransformer>(prepare, FaceModel().Fit(prepare.Transform(input)));
        var pair = Pair().Fit(faces.Transform(input));
        // On the CPU the cached stage embeds the photos in batches through a dynamic-batch copy of the face model.
        CachedFacePhotos? cached = _options.KeepIntermediateColumns || _options.PhotoCacheCapacity == 0 ? null
            : new CachedFacePhotos(_catalog, prepare, faces, input, new FacePhotoCache(_options.PhotoCacheCapacity), _options,
                _options.GpuDeviceId is null ? new BatchedFaceModel(_embedder, _embeddingInput, _mapOutput, _embeddingOutput) : null);
        IDataView Scored(IDataView data) => pair.Transform(cached is null ? faces.Transform(data) : cached.Transform(data));
        var stages = Stages;
        PlattCalibration? platt = null;
        double[]? cos = null;
        bool[]? same = null;
        var scored = Scored(input);
        if (XcosPipelineColumns.Has(input.Schema, _options.LabelColumnName))
        {
            XcosPipelineColumns.CheckScalar(input.Schema, "Label", _options.LabelColumnName, BooleanDataViewType.Instance);
            (cos, same) = stages.Labelled(scored, gated: true);
        }
        // the descriptor's threshold was calibrated on many pairs: a few labels must not replace it
        var (decidedBy, calibrated) = _descriptor.Decision(_learned is not null);
        var (threshold, source) = stages.Resolve(_options.Threshold, cos, same, (float)calibrated, decidedBy == "xcos" ? $"the calibrated xCos threshold of face model {_descriptor.Name}" : $"the calibrated threshold of face model {_descriptor.Name}");
        if (cos is not null) platt = DecisionStages.Calibrate(cos, same!, threshold);
        var decision = stages.Build(_catalog, gated: true, threshold, platt, source).Fit(scored);
        var full = pair.Transform(faces.Transform(input));
        var saveable = new TransformerChain<ITransformer>(faces, pair, decision, _catalog.DropColumns(Internals()).Fit(decision.Transform(full)));
        if (cached is null) return saveable;
        // The cached stage adds only the per-face columns the rest needs; drop those of them the saved chain drops.
        var drop = Internals().Where(n => scored.Schema.GetColumnOrNull(n) != null).ToArray();
        return new FacePhotoTransformer(saveable, cached, new TransformerChain<ITransformer>(pair, decision, _catalog.DropColumns(drop).Fit(decision.Transform(scored))));
    }

    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var shape = Pair().GetOutputSchema(FaceModel().GetOutputSchema(Prepare().GetOutputSchema(inputSchema)));
        return Stages.Build(_catalog, gated: true, 0f, null, "").Append(_catalog.DropColumns(Internals())).GetOutputSchema(shape);
    }

    private string[] Internals() => _options.KeepIntermediateColumns ? [] :
        ["Image1", "Image2", "LoadStatus1", "LoadStatus2", "DetectStatus1", "DetectStatus2", "AlignStatus1", "AlignStatus2",
         "FaceTensor1", "FaceTensor2", "Map1", "Map2", "Embedding1", "Embedding2", .. _options.Aligned ? Array.Empty<string>() : ["Landmarks1", "Landmarks2"]];

    // The work on each photo before its face model: read, detect, align, status and the face tensor.
    private IEstimator<ITransformer> Prepare()
    {
        var c = _catalog;
        var o = _options;
        IEstimator<ITransformer> chain = XcosPipeline.LoadImage(c, o.ImagePath1ColumnName, "Image1", "LoadStatus1", o.ImageFolder)
            .Append(XcosPipeline.LoadImage(c, o.ImagePath2ColumnName, "Image2", "LoadStatus2", o.ImageFolder));

        if (o.Aligned)
        {
            // Aligned faces need no detector: every face is "found" and the template is its landmarks.
            foreach (var n in new[] { "1", "2" })
                chain = chain.Append(c.Expression("DetectStatus" + n, "(s) => \"ok\"", "LoadStatus" + n));
        }
        else chain = chain.Append(Detection());
        foreach (var n in new[] { "1", "2" })
        {
            chain = chain.Append(c.AlignFaces(new FaceAlignOptions
            {
                ImageColumnName = "Image" + n, LandmarksColumnName = o.Aligned ? null : "Landmarks" + n, AlignedImageColumnName = null,
                LandmarkSource = o.Aligned ? AlignedFaceLandmarks.Instance : null,
                TensorColumnName = "FaceTensor" + n, StatusColumnName = "AlignStatus" + n, Tensor = _descriptor.TensorOptions(),
            }));
            chain = chain.Append(c.Expression("FaceStatus" + n, "(l, d, a) => l == \"ok\" ? (d == \"ok\" ? a : d) : l", "LoadStatus" + n, "DetectStatus" + n, "AlignStatus" + n));
        }
        return chain;
    }

    // Both faces through the face model (weights stored once): last map and embedding.
    private IEstimator<ITransformer> FaceModel() =>
        Onnx(_embedder, "face model", new() { [_embeddingInput] = ("FaceTensor1", "FaceTensor2") },
            [(_mapOutput, "Map1", "Map2"), (_embeddingOutput, "Embedding1", "Embedding2")]);

    // The work on each pair: its status, then the explanation of the face model's cosine.
    private IEstimator<ITransformer> Pair() => XcosPipeline.PairStatus(_catalog, "Status", "FaceStatus1", "FaceStatus2").Append(Explanation());

    // Detection of both photos: detector input, fr_detect, primary face and landmark crop, fr_landmark, five points.
    private IEstimator<ITransformer> Detection()
    {
        var c = _catalog;
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        chain = chain.Append(c.CopyColumns(FaceDetectionColumns.Image1, "Image1")).Append(c.CopyColumns(FaceDetectionColumns.Image2, "Image2"))
            .Append(c.CustomMapping<DetectorInputRow, DetectorInputOutput>(FaceDetectionMapping.Prepare, DetectorInputFactory.ContractName))
            .Append(Onnx(_detect, "fr_detect", new() { ["input"] = (FaceDetectionColumns.Input1, FaceDetectionColumns.Input2) },
                [("scores", FaceDetectionColumns.Scores1, FaceDetectionColumns.Scores2), ("boxes", FaceDetectionColumns.Boxes1, FaceDetectionColumns.Boxes2)]))
            .Append(c.CustomMapping<FacePickInput, FacePickOutput>(FaceDetectionMapping.Pick, FacePickFactory.ContractName))
            .Append(Onnx(_landmark, "fr_landmark", new() { ["input"] = (FaceDetectionColumns.LandmarkInput1, FaceDetectionColumns.LandmarkInput2) },
                [("output", FaceDetectionColumns.LandmarkOutput1, FaceDetectionColumns.LandmarkOutput2)]))
            .Append(c.CustomMapping<FaceLandmarksInput, FaceLandmarksOutput>(FaceDetectionMapping.Landmarks, FaceLandmarksFactory.ContractName));
        foreach (var n in new[] { "1", "2" })
        {
            chain = chain.Append(c.CopyColumns("Landmarks" + n, n == "1" ? FaceDetectionColumns.Landmarks1 : FaceDetectionColumns.Landmarks2))
                .Append(c.CopyColumns("DetectStatus" + n, n == "1" ? FaceDetectionColumns.Status1 : FaceDetectionColumns.Status2))
                .Append(c.CopyColumns("FaceCount" + n, n == "1" ? FaceDetectionColumns.Count1 : FaceDetectionColumns.Count2))
                .Append(c.CopyColumns("FaceBox" + n, n == "1" ? FaceDetectionColumns.Box1 : FaceDetectionColumns.Box2));
        }
        return chain.Append(c.DropColumns(typeof(FaceDetectionColumns).GetFields().Select(f => (string)f.GetRawConstantValue()!).ToArray()));
    }

    // The explanation of the face model's cosine from both faces' maps and embeddings.
    private IEstimator<ITransformer> Explanation()
    {
        var c = _catalog;
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();
        // The explanation of the model's cosine; a two-branch learned-xCos model has no weight-derived one, only the cosine.
        var headOutputs = new List<OnnxOutputSpec> { new(WeightDerivedXcosOnnx.Cosine, "Xcos.Photo.CosineVector") };
        if (_head is not null) headOutputs.Add(new(WeightDerivedXcosOnnx.Contributions, "Contributions"));
        if (_learned is null)
            headOutputs.AddRange([new(WeightDerivedXcosOnnx.Score, "Xcos.Photo.XcosVector"), new(WeightDerivedXcosOnnx.CosMap, "CosineMap"), new(WeightDerivedXcosOnnx.Attention, "Attention")]);
        var headInputs = new Dictionary<string, string> { [WeightDerivedXcosOnnx.Embedding1] = "Embedding1", [WeightDerivedXcosOnnx.Embedding2] = "Embedding2" };
        if (_head is not null)
        {
            headInputs[WeightDerivedXcosOnnx.Map1] = "Map1";
            headInputs[WeightDerivedXcosOnnx.Map2] = "Map2";
        }
        var headModel = _head is not null ? OnnxModelFile.Load(_head).Model : WeightDerivedXcosOnnx.BuildCosine(_embeddingDim);
        chain = chain.Append(Apply(XcosPipelineOnnx.Adapt(headModel, headInputs, headOutputs, _head is null ? "embedding cosine" : "weight-derived xCos"), headInputs.Values, headOutputs));
        if (_learned is not null)
        {
            var learnedModel = OnnxModelFile.Load(_learned).Model;
            var learnedInputs = new Dictionary<string, string> { [XcosOnnxExport.Map1Input] = "Map1", [XcosOnnxExport.Map2Input] = "Map2" };
            // a head that blends in the cosine reads the cosine stage's output
            if (learnedModel.Graph.Input.Any(i => i.Name == XcosOnnxExport.CosineInput)) learnedInputs[XcosOnnxExport.CosineInput] = "Xcos.Photo.CosineVector";
            // a gated head reads both faces' embeddings (the share of the cosine follows how much its two branches agree on each face)
            if (learnedModel.Graph.Input.Any(i => i.Name == XcosOnnxExport.Embedding1Input))
            {
                learnedInputs[XcosOnnxExport.Embedding1Input] = "Embedding1";
                learnedInputs[XcosOnnxExport.Embedding2Input] = "Embedding2";
            }
            var learnedOutputs = new List<OnnxOutputSpec>
            {
                new(XcosOnnxExport.ScoreOutput, "Xcos.Photo.XcosVector"), new(XcosOnnxExport.CosMapOutput, "CosineMap"), new(XcosOnnxExport.AttentionOutput, "Attention"),
            };
            chain = chain.Append(Apply(XcosPipelineOnnx.Adapt(learnedModel, learnedInputs, learnedOutputs, "learned xCos head"), learnedInputs.Values, learnedOutputs));
        }
        chain = chain.Append(c.CopyColumns(XcosPairScoringColumns.ScoreVector, "Xcos.Photo.XcosVector"))
            .Append(c.CopyColumns(XcosPairScoringColumns.CosineVector, "Xcos.Photo.CosineVector"))
            .Append(c.CustomMapping<XcosPairVectors, XcosPairScalars>(XcosPairScalarsFactory.Map, XcosPairScalarsFactory.ContractName))
            .Append(c.CopyColumns("Xcos", XcosPairScoringColumns.Score))
            .Append(c.CopyColumns("Cosine", XcosPairScoringColumns.Cosine))
            .Append(c.DropColumns(XcosPairScoringColumns.ScoreVector, XcosPairScoringColumns.CosineVector, XcosPairScoringColumns.Score,
                XcosPairScoringColumns.Cosine, "Xcos.Photo.XcosVector", "Xcos.Photo.CosineVector"));
        return chain;
    }

    // One ApplyOnnxModel stage running `bytes` for both faces with shared weights.
    private IEstimator<ITransformer> Onnx(byte[] bytes, string what, Dictionary<string, (string Face1, string Face2)> inputs, (string Onnx, string Face1, string Face2)[] outputs)
    {
        var twin = XcosPipelineOnnx.Twin(OnnxModelFile.Load(bytes).Model, ["1", "2"]);
        var inMap = new Dictionary<string, string>();
        foreach (var (name, cols) in inputs)
        {
            inMap[XcosPipelineOnnx.TwinName(name, "1")] = cols.Face1;
            inMap[XcosPipelineOnnx.TwinName(name, "2")] = cols.Face2;
        }
        var outMap = outputs.SelectMany(o => new[] { new OnnxOutputSpec(XcosPipelineOnnx.TwinName(o.Onnx, "1"), o.Face1), new OnnxOutputSpec(XcosPipelineOnnx.TwinName(o.Onnx, "2"), o.Face2) }).ToList();
        return Apply(XcosPipelineOnnx.Adapt(twin, inMap, outMap, what), inMap.Values, outMap);
    }

    private IEstimator<ITransformer> Apply(AdaptedOnnxModel model, IEnumerable<string> inputs, IEnumerable<OnnxOutputSpec> outputs) =>
        _catalog.ApplyOnnxModel(outputs.Select(o => o.ColumnName).ToArray(), inputs.ToArray(), new MemoryStream(model.Bytes, writable: false),
            OnnxGpu.Resolve(_options.GpuDeviceId, _options.FallbackToCpu, "VerifyFacePairs"), _options.FallbackToCpu);
}
