using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Data;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Torch.Export;
using Xcos.ML.Torch.Networks;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.MLNet;

/// <summary>
/// The TorchSharp side of <c>XcosEmbedding</c>. Fit either reads the xCos weights of a PyTorch checkpoint
/// (<see cref="XcosEmbeddingTraining.None"/>) or trains them with TorchSharp (<see cref="XcosEmbeddingTraining.Full"/>:
/// <see cref="XcosTrainer"/>; <see cref="XcosEmbeddingTraining.HeadOnly"/>: <see cref="XcosHeadTrainer"/>) from the image
/// folder <see cref="XcosTrainingEmbeddingOptions.TrainingImageFolder"/> or Fit's rows, then exports the weights to ONNX and returns
/// the same saveable ML.NET transformer as <see cref="XcosEmbeddingEstimator"/>, so the fitted model runs (and loads)
/// without TorchSharp.
/// </summary>
/// <remarks>
/// Training reads the image folder, or, with <see cref="XcosTrainingEmbeddingOptions.ImagePathColumnName"/>, the image
/// paths and identities of Fit's rows (so <c>LoadFromTextFile</c>, this estimator and <c>VerifyFacePairs</c> form one
/// ML.NET program); the trainer decodes the images on its own threads with its own pair sampling and augmentation.
/// Fit's input is checked for the face-tensor column the fitted transformer reads. Every Fit call trains anew; <see cref="Weights"/> and <see cref="LastTraining"/> describe the latest one.
/// </remarks>
public sealed class XcosTrainingEmbeddingEstimator : IEstimator<ITransformer>
{
    private const int FaceTensorFloats = 3 * 112 * 112;
    private readonly TransformsCatalog _catalog;
    private readonly XcosTrainingEmbeddingOptions _options;
    private readonly Lazy<Dictionary<string, WeightTensor>>? _checkpointWeights;
    private readonly Lazy<XcosEmbeddingEstimator> _schemaEstimator;
    private Dictionary<string, WeightTensor>? _trainedWeights;

    /// <summary>Use <c>mlContext.Transforms.XcosEmbedding(new XcosTrainingEmbeddingOptions { ... })</c>.</summary>
    /// <exception cref="ArgumentException">
    /// No checkpoint path without training; a checkpoint path, or no training image folder, with training; a model given
    /// besides them; or trainer options out of range (the message names the option).
    /// </exception>
    public XcosTrainingEmbeddingEstimator(TransformsCatalog catalog, XcosTrainingEmbeddingOptions options)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.ModelBytes != null || options.ModelPath != null || options.Weights != null)
            throw new ArgumentException("XcosTrainingEmbeddingOptions: the model comes from CheckpointPath or from training; leave ModelBytes, ModelPath and Weights null");
        if (options.Training == XcosEmbeddingTraining.None)
        {
            if (string.IsNullOrEmpty(options.CheckpointPath)) throw new ArgumentException("XcosTrainingEmbeddingOptions.CheckpointPath is required when Training is None");
            string path = options.CheckpointPath;
            _checkpointWeights = new Lazy<Dictionary<string, WeightTensor>>(() => TorchOnnxExport.LoadCheckpointWeights(path));
            // The export runs once, on the first Fit or GetOutputSchema.
            _schemaEstimator = new Lazy<XcosEmbeddingEstimator>(() => CreateInner(_checkpointWeights.Value));
        }
        else
        {
            if (options.CheckpointPath != null)
                throw new ArgumentException($"XcosTrainingEmbeddingOptions.CheckpointPath must be null when Training is {options.Training}: the model is trained (a frozen model for HeadOnly goes in Trainer.TargetCheckpoint)");
            if (string.IsNullOrEmpty(options.TrainingImageFolder) == string.IsNullOrEmpty(options.ImagePathColumnName))
                throw new ArgumentException($"XcosTrainingEmbeddingOptions: give TrainingImageFolder or ImagePathColumnName (train on Fit's rows), one of them, when Training is {options.Training}");
            options.ResolvedTrainerOptions().Validate();
            // The output schema depends only on the architecture: an untrained network of the same shape describes it.
            _schemaEstimator = new Lazy<XcosEmbeddingEstimator>(() => CreateInner(ArchitectureWeights(options.ResolvedTrainerOptions())));
        }
    }

    /// <summary>
    /// The weights the fitted model is exported from: the checkpoint's (read on first use) or, when training, those of the
    /// latest Fit. Give the same weights to <c>ScoreXcosPairs</c> (<see cref="XcosPairScorerOptions.Weights"/>) so the pair
    /// head matches the embedding.
    /// </summary>
    /// <exception cref="FileNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="InvalidDataException">The checkpoint cannot be read.</exception>
    /// <exception cref="InvalidOperationException">Training is configured and Fit has not run yet.</exception>
    public IReadOnlyDictionary<string, WeightTensor> Weights => _checkpointWeights?.Value
        ?? _trainedWeights ?? throw new InvalidOperationException($"XcosTrainingEmbeddingEstimator: Training is {_options.Training}; the weights exist after Fit");

    /// <summary>Outcome of the latest Fit's training (epochs, losses, validation); null before it or without training.</summary>
    public TrainingResult? LastTraining { get; private set; }

    /// <summary>Trains when configured, then returns the fitted ONNX transformer of the (trained or read) weights.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input lacks the face-tensor column (a vector of 3 x 112 x 112 Single).</exception>
    /// <exception cref="OperationCanceledException"><see cref="XcosTrainingEmbeddingOptions.TrainingCancellation"/> fired during training.</exception>
    /// <exception cref="TrainingDivergedException">The training loss became NaN or infinite.</exception>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (_options.Training == XcosEmbeddingTraining.None) return _schemaEstimator.Value.Fit(input);
        // Checked before training, so a wrong column fails in a second rather than after the epochs.
        CheckFaceTensorColumn(input.Schema);
        var folder = _options.ImagePathColumnName is { } pathColumn
            ? RowsFolder(input, pathColumn, _options.IdentityColumnName)
            : ImageFolder.Load(_options.TrainingImageFolder!);
        var weights = Train(folder);
        _trainedWeights = weights;
        return CreateInner(weights).Fit(input);
    }

    /// <summary>The schema after the transform (builds the architecture, or reads the checkpoint, to know the model's outputs).</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _schemaEstimator.Value.GetOutputSchema(inputSchema);

    private void CheckFaceTensorColumn(DataViewSchema schema)
    {
        string name = _options.InputColumnName;
        var col = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Face tensor column '{name}' not found; expected a vector of {FaceTensorFloats} Single (3 x 112 x 112), e.g. the FaceTensor column of AlignFaces");
        if (col.Type is not VectorDataViewType { ItemType: var item, Size: var size } || item != NumberDataViewType.Single || size != FaceTensorFloats)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Face tensor column '{name}' has type {col.Type}; expected a vector of {FaceTensorFloats} Single (3 x 112 x 112)");
    }

    // The image-path and identity columns of Fit's rows as the trainer's image list.
    private static ImageFolder RowsFolder(IDataView input, string pathColumn, string identityColumn)
    {
        foreach (var name in new[] { pathColumn, identityColumn })
        {
            var col = input.Schema.GetColumnOrNull(name)
                ?? throw new ArgumentOutOfRangeException(nameof(input), $"Training column '{name}' not found; expected a text column ({(name == pathColumn ? "image file" : "person")} of each row)");
            if (col.Type is not TextDataViewType)
                throw new ArgumentOutOfRangeException(nameof(input), $"Training column '{name}' has type {col.Type}; expected text");
        }
        var paths = input.GetColumn<ReadOnlyMemory<char>>(pathColumn).Select(m => m.ToString()).ToList();
        var ids = input.GetColumn<ReadOnlyMemory<char>>(identityColumn).Select(m => m.ToString()).ToList();
        try { return ImageFolder.FromList($"the rows of Fit's input ({pathColumn}, {identityColumn})", paths.Zip(ids).ToList()); }
        catch (ArgumentException e) { throw new ArgumentOutOfRangeException(nameof(input), e.Message); }
    }

    private Dictionary<string, WeightTensor> Train(ImageFolder folder)
    {
        var o = _options.ResolvedTrainerOptions();
        var validation = _options.ValidationPairs ?? [];
        bool temporary = _options.TrainingOutputDirectory == null;
        string outDir = _options.TrainingOutputDirectory ?? Path.Combine(Path.GetTempPath(), "xcos-fit-" + Guid.NewGuid().ToString("N"));
        try
        {
            // best epoch by validation accuracy when there is validation; the last state otherwise
            string Chosen() => validation.Count > 0 && File.Exists(Path.Combine(outDir, TrainingFiles.BestWeights))
                ? Path.Combine(outDir, TrainingFiles.BestWeights) : Path.Combine(outDir, TrainingFiles.LastWeights);
            if (o.Mode == TrainingMode.Full)
            {
                using var trainer = new XcosTrainer(o, folder, validation, outDir);
                LastTraining = Finish(trainer.Train(_options.TrainingProgress, _options.TrainingCancellation));
                return validation.Count > 0 ? TorchOnnxExport.LoadCheckpointWeights(Chosen()) : TorchOnnxExport.ToWeights(trainer.Model);
            }
            var source = TorchFeatureMapSource.FromCheckpoint(o.TargetCheckpoint!, o.TargetArch, o.TargetStages, o.TargetDepth, TorchRuntime.Configure(o.Threads, o.Device));
            try
            {
                using var trainer = new XcosHeadTrainer(o, source, folder, validation, outDir);
                LastTraining = Finish(trainer.Train(_options.TrainingProgress, _options.TrainingCancellation));
            }
            finally { source.Backbone.Dispose(); }
            using var model = XcosHeadTrainer.ComposeModel(o, Chosen());
            return TorchOnnxExport.ToWeights(model);
        }
        finally
        {
            if (temporary)
                try { Directory.Delete(outDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private TrainingResult Finish(TrainingResult result)
    {
        if (result.Cancelled) throw new OperationCanceledException($"xCos training was cancelled after {result.GlobalStep} steps; no model was fitted", _options.TrainingCancellation);
        return result;
    }

    /// <summary>Weights of an untrained network with the architecture training will produce (for the output schema).</summary>
    private static Dictionary<string, WeightTensor> ArchitectureWeights(XcosTrainerOptions o)
    {
        XcosModelOptions shape;
        if (o.Mode == TrainingMode.Full) shape = o.ModelOptions(withTarget: o.TargetCheckpoint is not null);
        else
        {
            // as XcosHeadTrainer.ComposeModel: the frozen model's trunk under the grid layer, and as the target
            var stages = o.TargetStages ?? (BackboneFactory.Parse(o.TargetArch).Kind == "mobilefacenet" ? null : BackboneFactory.StagesFor(o.TargetDepth));
            shape = new XcosModelOptions
            {
                Arch = o.TargetArch, Stages = stages, GridChannels = o.GridChannels, Temperature = o.Temperature,
                TargetArch = o.TargetArch, TargetStages = stages,
            };
        }
        using var model = new XcosModel(shape);
        return TorchOnnxExport.ToWeights(model);
    }

    private XcosEmbeddingEstimator CreateInner(IReadOnlyDictionary<string, WeightTensor> weights) => new(_catalog, new XcosEmbeddingOptions
    {
        Weights = weights,
        ExportOptions = _options.ExportOptions,
        InputColumnName = _options.InputColumnName,
        GridColumnName = _options.GridColumnName,
        EmbeddingColumnName = _options.EmbeddingColumnName,
        FaceCodeColumnName = _options.FaceCodeColumnName,
        TargetEmbeddingColumnName = _options.TargetEmbeddingColumnName,
        GpuDeviceId = _options.GpuDeviceId,
        FallbackToCpu = _options.FallbackToCpu,
    });
}
