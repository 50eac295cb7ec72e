using System.Diagnostics.CodeAnalysis;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using Xcos.ML.Alignment;

namespace Xcos.ML.MLNet;

/// <summary>
/// Aligns faces onto the ArcFace 112x112 template inside an ML.NET pipeline: image column + landmark column in;
/// aligned face image, normalised CHW tensor and a per-row status out. Bad rows get a black face and a status
/// text instead of an exception.
/// </summary>
/// <remarks>
/// <see cref="Fit"/> returns a chain of ML.NET's own transformers (CopyColumns, CustomMapping, ExtractPixels,
/// DropColumns), so the fitted model saves with <c>mlContext.Model.Save</c>. Before <c>mlContext.Model.Load</c>, call
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(FaceAlignEstimator).Assembly)</c> so the CustomMapping
/// contracts resolve. Fitting learns nothing; it only checks the schema.
/// </remarks>
public sealed class FaceAlignEstimator : IEstimator<ITransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly FaceAlignOptions _options;

    /// <summary>Use <c>mlContext.Transforms.AlignFaces(...)</c>.</summary>
    public FaceAlignEstimator(TransformsCatalog catalog, FaceAlignOptions options)
    {
        MLImageTypeRegistration.Ensure();
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (string.IsNullOrEmpty(options.ImageColumnName)) throw new ArgumentException("FaceAlignOptions.ImageColumnName is required");
        if (string.IsNullOrEmpty(options.StatusColumnName)) throw new ArgumentException("FaceAlignOptions.StatusColumnName is required");
        if (options.LandmarksColumnName == null && options.LandmarkSource == null)
            throw new ArgumentException("FaceAlignOptions needs a LandmarksColumnName or a LandmarkSource");
        var t = options.Tensor ?? throw new ArgumentException("FaceAlignOptions.Tensor is required");
        if (t.Std == 0 || !float.IsFinite(t.Std) || !float.IsFinite(t.Mean))
            throw new ArgumentException($"FaceAlignOptions.Tensor needs a finite Mean and a finite non-zero Std (got {t.Mean}, {t.Std})");
    }

    /// <summary>Checks the input columns and fits the chain of ML.NET transformers that does the work.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type (the message names it).</exception>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var (useColumn, imageType) = Validate(name => Find(input.Schema, name));
        if (useColumn)
        {
            var col = input.Schema[_options.LandmarksColumnName!];
            if (col.Type is VectorDataViewType v && v.Size != 0 && v.Size != 10 && v.Size != 136)
                throw new ArgumentOutOfRangeException(nameof(input),
                    $"Landmark column '{col.Name}' is a vector of {v.Size} floats; expected 10 (5 points x,y) or 136 (68 points x,y)");
        }
        return BuildChain(useColumn, imageType).Fit(input);
    }

    /// <summary>The schema after the transform, after checking the input columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var (useColumn, imageType) = Validate(name => Find(inputSchema, name));
        return BuildChain(useColumn, imageType).GetOutputSchema(inputSchema);
    }

    // A column as both schema kinds describe it: null when absent.
    private sealed record ColumnInfo(string Name, bool IsScalar, DataViewType ItemType, string TypeName);

    private static ColumnInfo? Find(SchemaShape schema, string name)
    {
        // Later columns hide earlier ones of the same name, as in a DataViewSchema.
        var c = schema.LastOrDefault(x => x.Name == name);
        return c.Name == null ? null : new ColumnInfo(c.Name, c.Kind == SchemaShape.Column.VectorKind.Scalar, c.ItemType, ShapeTypeName(c));
    }

    private static string ShapeTypeName(SchemaShape.Column c) => c.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => c.ItemType.ToString() ?? "?",
        SchemaShape.Column.VectorKind.Vector => $"Vector<{c.ItemType}>",
        _ => $"VarVector<{c.ItemType}>",
    };

    private static ColumnInfo? Find(DataViewSchema schema, string name)
    {
        var c = schema.GetColumnOrNull(name);
        return c == null ? null : new ColumnInfo(name, c.Value.Type is not VectorDataViewType, (c.Value.Type as VectorDataViewType)?.ItemType ?? c.Value.Type, c.Value.Type.ToString() ?? "?");
    }

    // Returns whether landmarks come from the column (else from the source), and the image column's type.
    [SuppressMessage("Usage", "CA2208", Justification = "Schema mismatches name the public method's inputSchema, as ML.NET's own estimators do.")]
    private (bool LandmarksFromColumn, DataViewType ImageType) Validate(Func<string, ColumnInfo?> find)
    {
        string img = _options.ImageColumnName;
        var imageCol = find(img)
            ?? throw new ArgumentOutOfRangeException("inputSchema", $"Image column '{img}' not found; expected an image (MLImage) column, e.g. from mlContext.Transforms.LoadImages");
        if (!imageCol.IsScalar || imageCol.ItemType is not ImageDataViewType)
            throw new ArgumentOutOfRangeException("inputSchema", $"Image column '{img}' has type {imageCol.TypeName}; expected an image (MLImage) column, e.g. from mlContext.Transforms.LoadImages");
        // Landmarks are in source pixels, so the image must be the one as loaded, not a resized copy (which has a sized type).
        if (imageCol.ItemType is ImageDataViewType { Height: > 0 } sized)
            throw new ArgumentOutOfRangeException("inputSchema",
                $"Image column '{img}' has the fixed-size type {sized}; expected the image as loaded (type Image, from mlContext.Transforms.LoadImages), since landmarks are in its pixel coordinates: align before any ResizeImages");

        string? lm = _options.LandmarksColumnName;
        var lmCol = lm == null ? null : find(lm);
        if (lmCol != null)
        {
            if (lmCol.IsScalar || lmCol.ItemType != NumberDataViewType.Single)
                throw new ArgumentOutOfRangeException("inputSchema",
                    $"Landmark column '{lm}' has type {lmCol.TypeName}; expected a vector of Single (10 or 136 values: x,y pairs)");
            return (true, imageCol.ItemType);
        }
        if (_options.LandmarkSource != null) return (false, imageCol.ItemType);
        throw new ArgumentOutOfRangeException("inputSchema",
            $"Landmark column '{lm}' not found and no LandmarkSource given; expected a vector of Single (10 or 136 values: x,y pairs)");
    }

    // CustomMappingEstimator compares input column types by reference, and LoadImages makes its own
    // ImageDataViewType instance; declaring the input column with that very instance lets the check pass.
    private static SchemaDefinition WithImageType<T>(DataViewType imageType)
    {
        var def = SchemaDefinition.Create(typeof(T), SchemaDefinition.Direction.Read);
        def[FaceAlignColumns.Image].ColumnType = imageType;
        return def;
    }

    private EstimatorChain<ITransformer> BuildChain(bool landmarksFromColumn, DataViewType imageType)
    {
        var o = _options;
        var chain = new EstimatorChain<ITransformer>();
        var internals = new List<string> { FaceAlignColumns.Image, FaceAlignColumns.Landmarks, FaceAlignColumns.Face, FaceAlignColumns.Status };

        var copyIn = new List<InputOutputColumnPair> { new(FaceAlignColumns.Image, o.ImageColumnName) };
        if (landmarksFromColumn) copyIn.Add(new(FaceAlignColumns.Landmarks, o.LandmarksColumnName!));
        foreach (var p in copyIn) chain = chain.Append<ITransformer>(_catalog.CopyColumns(p.OutputColumnName, p.InputColumnName));
        if (!landmarksFromColumn)
        {
            var src = o.LandmarkSource!;
            chain = chain.Append<ITransformer>(_catalog.CustomMapping(LandmarkSourceMapping.Create(src), src.ContractName,
                WithImageType<LandmarkSourceInput>(imageType)));
        }
        var alignInput = WithImageType<FaceAlignInput>(imageType);
        bool flip = o.TensorColumnName != null && o.Tensor.HorizontalFlip;
        chain = flip
            ? chain.Append<ITransformer>(_catalog.CustomMapping<FaceAlignInput, FaceAlignFlipOutput>(FaceAlignMapping.AlignAndFlip, FaceAlignFlipMappingFactory.ContractName, alignInput))
            : chain.Append<ITransformer>(_catalog.CustomMapping<FaceAlignInput, FaceAlignOutput>(FaceAlignMapping.Align, FaceAlignMappingFactory.ContractName, alignInput));
        if (flip) internals.Add(FaceAlignColumns.FlippedFace);

        var copyOut = new List<InputOutputColumnPair> { new(o.StatusColumnName, FaceAlignColumns.Status) };
        if (o.AlignedImageColumnName != null) copyOut.Add(new(o.AlignedImageColumnName, FaceAlignColumns.Face));
        if (o.TensorColumnName != null)
        {
            string pixelsFrom = flip ? FaceAlignColumns.FlippedFace : FaceAlignColumns.Face;
            // ExtractPixels computes (x - offset) * scale per value (checked: the offset is subtracted), planar when not interleaved.
            chain = chain.Append<ITransformer>(_catalog.ExtractPixels(FaceAlignColumns.Tensor, pixelsFrom,
                colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Rgb,
                orderOfExtraction: o.Tensor.ChannelOrder == Images.ChannelOrder.Bgr
                    ? ImagePixelExtractingEstimator.ColorsOrder.ABGR
                    : ImagePixelExtractingEstimator.ColorsOrder.ARGB,
                interleavePixelColors: false,
                offsetImage: o.Tensor.Mean,
                scaleImage: 1f / o.Tensor.Std,
                outputAsFloatArray: true));
            copyOut.Add(new(o.TensorColumnName, FaceAlignColumns.Tensor));
            internals.Add(FaceAlignColumns.Tensor);
        }
        foreach (var p in copyOut) chain = chain.Append<ITransformer>(_catalog.CopyColumns(p.OutputColumnName, p.InputColumnName));
        // Output names may reuse an internal name only by accident; never drop a requested output.
        var keep = new HashSet<string>(copyOut.Select(p => p.OutputColumnName));
        chain = chain.Append<ITransformer>(_catalog.DropColumns(internals.Where(c => !keep.Contains(c)).ToArray()));
        return chain;
    }
}
