using System.Diagnostics.CodeAnalysis;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Xcos.ML.MLNet;

/// <summary>
/// Appends 1:N identification (<see cref="IdentifyFacesFactory"/>) to a pipeline; use
/// <c>mlContext.Transforms.IdentifyFaces(galleryPath)</c>. Fitting gives a CustomMapping transformer that saves
/// under <see cref="IdentifyFacesFactory.ContractName"/>.
/// </summary>
public sealed class IdentifyFacesEstimator : IEstimator<ITransformer>
{
    private const string ImageColumn = "Image";
    private readonly TransformsCatalog _catalog;

    /// <summary>Use <c>mlContext.Transforms.IdentifyFaces(galleryPath)</c>.</summary>
    public IdentifyFacesEstimator(TransformsCatalog catalog, string galleryPath)
    {
        MLImageTypeRegistration.Ensure();
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        IdentifyFacesFactory.UseGallery(galleryPath);
        // open now, so a missing or mismatched gallery fails when the pipeline is built, not at the first row
        IdentifyFacesFactory.Shared(IdentifyFacesFactory.GalleryPath());
    }

    /// <inheritdoc/>
    public ITransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var col = input.Schema.GetColumnOrNull(ImageColumn);
        return Build(col?.Type).Fit(input);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var c = inputSchema.LastOrDefault(x => x.Name == ImageColumn);
        return Build(c.Name is null || c.Kind != SchemaShape.Column.VectorKind.Scalar ? null : c.ItemType).GetOutputSchema(inputSchema);
    }

    [SuppressMessage("Usage", "CA2208", Justification = "Schema mismatches name the public method's inputSchema, as ML.NET's own estimators do.")]
    private IEstimator<ITransformer> Build(DataViewType? imageType)
    {
        if (imageType is not ImageDataViewType)
            throw new ArgumentOutOfRangeException("inputSchema", $"identification needs an image column '{ImageColumn}' (MLImage, e.g. from mlContext.Transforms.LoadImages); found {imageType?.ToString() ?? "none"}");
        // CustomMappingEstimator compares the input column's type by reference: declare it with the input's own instance
        var def = SchemaDefinition.Create(typeof(IdentifyFacesInput), SchemaDefinition.Direction.Read);
        def[ImageColumn].ColumnType = imageType;
        return _catalog.CustomMapping(IdentifyFacesFactory.Mapping(IdentifyFacesFactory.Shared(IdentifyFacesFactory.GalleryPath())), IdentifyFacesFactory.ContractName, def);
    }
}
