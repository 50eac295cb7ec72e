using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Xcos.ML.FaceModels;
using Xcos.ML.Onnx;

namespace Xcos.ML.MLNet;

/// <summary>Input row of the photo cache's lookup stage: the two photo paths as the user gave them.</summary>
internal sealed class CachedFacePaths
{
    /// <summary>Path of photo 1 (copy of the user's column).</summary>
    [ColumnName(CachedFacePhotos.Path1)]
    public string Path1 { get; set; } = "";

    /// <summary>Path of photo 2 (copy of the user's column).</summary>
    [ColumnName(CachedFacePhotos.Path2)]
    public string Path2 { get; set; } = "";
}

/// <summary>Output row of the photo cache's lookup stage: per face, what the photo pipeline's per-face stages give.</summary>
internal sealed class CachedFaceColumns
{
    // the order of the row-by-row stages' columns, so the cached and the saved model have one schema
    /// <summary>Faces the detector found in photo 1.</summary>
    public int FaceCount1 { get; set; }

    /// <summary>Box of photo 1's primary face (x1, y1, x2, y2 in pixels).</summary>
    [VectorType(4)]
    public float[] FaceBox1 { get; set; } = [];

    /// <summary>Faces the detector found in photo 2.</summary>
    public int FaceCount2 { get; set; }

    /// <summary>Box of photo 2's primary face.</summary>
    [VectorType(4)]
    public float[] FaceBox2 { get; set; } = [];

    /// <summary>Face 1's status ("ok" or the failure).</summary>
    public string FaceStatus1 { get; set; } = "";

    /// <summary>Face 2's status.</summary>
    public string FaceStatus2 { get; set; } = "";

    /// <summary>Face 1's last feature map (the face model's shape).</summary>
    [VectorType]
    public float[] Map1 { get; set; } = [];

    /// <summary>Face 2's last feature map.</summary>
    [VectorType]
    public float[] Map2 { get; set; } = [];

    /// <summary>Face 1's embedding.</summary>
    [VectorType]
    public float[] Embedding1 { get; set; } = [];

    /// <summary>Face 2's embedding.</summary>
    [VectorType]
    public float[] Embedding2 { get; set; } = [];
}

/// <summary>
/// The per-face part of a fitted photo pipeline (read, detect, align, embed), run once per distinct photo: a
/// Transform first finds the photos of the input that <see cref="FacePhotoCache"/> does not hold and runs the
/// pipeline's own per-face stages on them, two photos per row (the stages are twin graphs: face 1 and face 2 of a
/// row are two photos) up to the face tensors, embeds those in batches with the same face model made batch-dynamic
/// (<see cref="BatchedFaceModel"/>; on a GPU the saved twin stage instead), then a lookup stage gives every row its
/// faces' columns from the cache. The saved model is the same stages row by row; the two agree to float rounding
/// (a convolution at batch 32 sums in another order than at batch 1).
/// </summary>
internal sealed class CachedFacePhotos
{
    public const string Path1 = "Xcos.Cache.Path1", Path2 = "Xcos.Cache.Path2";

    private readonly ITransformer _prepare, _faces;
    private readonly BatchedFaceModel? _batched;
    private readonly FacePhotoCache _cache;
    private readonly FacePhotoPipelineOptions _options;
    private readonly ITransformer _lookup;
    private readonly SchemaDefinition _pathsDefinition;
    private readonly MLContext _ml = new();

    /// <param name="catalog">Catalog to build the lookup stage with.</param>
    /// <param name="prepare">The fitted per-face stages before the face model (FaceStatus, FaceCount, FaceBox, FaceTensor).</param>
    /// <param name="faces">The fitted per-face stages: path columns in; FaceStatus, FaceCount, FaceBox, Map, Embedding (1 and 2) out.</param>
    /// <param name="input">Data with the input's schema (only its schema is used).</param>
    /// <param name="cache">The memo shared by every pass of the fitted pipeline.</param>
    /// <param name="options">The pipeline's options (path columns, image folder, aligned).</param>
    /// <param name="batched">The face model taking many faces per call (owned; then <paramref name="faces"/> runs only <paramref name="prepare"/>'s part), or null.</param>
    public CachedFacePhotos(TransformsCatalog catalog, ITransformer prepare, ITransformer faces, IDataView input, FacePhotoCache cache, FacePhotoPipelineOptions options,
        BatchedFaceModel? batched)
    {
        _prepare = prepare;
        _faces = faces;
        _batched = batched;
        _cache = cache;
        _options = options;
        var facesSchema = faces.GetOutputSchema(input.Schema);
        var output = SchemaDefinition.Create(typeof(CachedFaceColumns));
        foreach (var name in new[] { "Map1", "Map2", "Embedding1", "Embedding2" }) output[name].ColumnType = facesSchema[name].Type;
        string[] drop = options.Aligned ? [Path1, Path2, "FaceCount1", "FaceCount2", "FaceBox1", "FaceBox2"] : [Path1, Path2];
        _lookup = catalog.CopyColumns(Path1, options.ImagePath1ColumnName).Append(catalog.CopyColumns(Path2, options.ImagePath2ColumnName))
            .Append(catalog.CustomMapping<CachedFacePaths, CachedFaceColumns>(Lookup, contractName: null, outputSchemaDefinition: output))
            .Append(catalog.DropColumns(drop))
            .Fit(input);
        _pathsDefinition = SchemaDefinition.Create(typeof(CachedFacePaths));
        _pathsDefinition[Path1].ColumnName = options.ImagePath1ColumnName;
        _pathsDefinition[Path2].ColumnName = options.ImagePath2ColumnName;
    }

    /// <summary>The memo this stage reads and fills.</summary>
    public FacePhotoCache Cache => _cache;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _lookup.GetOutputSchema(inputSchema);

    /// <summary>Computes the photos of <paramref name="input"/> not held yet (in one pass), then maps lazily from the cache.</summary>
    public IDataView Transform(IDataView input)
    {
        var todo = new Dictionary<FacePhotoKey, string>();
        foreach (var column in new[] { _options.ImagePath1ColumnName, _options.ImagePath2ColumnName })
        {
            foreach (var path in input.GetColumn<string>(column))
            {
                var key = Key(path ?? "");
                if (todo.Count < _cache.Capacity && !todo.ContainsKey(key) && !_cache.TryGet(key, out _)) todo[key] = path ?? "";
            }
        }
        Compute(todo.ToList());
        return _lookup.Transform(input);
    }

    private FacePhotoKey Key(string path) => FacePhotoKey.Of(Resolve(path));

    // The image folder's rule of the saved model's path expression (XcosPipeline.LoadImage): relative paths are joined to it.
    private string Resolve(string path)
    {
        var folder = _options.ImageFolder;
        if (folder is null || path.Length == 0 || path[0] == '/' || (path.Length > 1 && path[1] == ':')) return path;
        var f = folder.Replace('\\', '/');
        return (f.EndsWith('/') ? f : f + "/") + path;
    }

    private FacePhotoEntry Get(string path)
    {
        var key = Key(path);
        if (_cache.TryGet(key, out var entry)) return entry;
        // Not held: evicted (more distinct photos than the capacity) or changed since the Transform's first pass.
        return Compute([new(key, path)])[0];
    }

    private void Lookup(CachedFacePaths paths, CachedFaceColumns row)
    {
        var a = Get(paths.Path1);
        var b = Get(paths.Path2);
        (row.FaceStatus1, row.FaceCount1, row.FaceBox1, row.Map1, row.Embedding1) = (a.Status, a.FaceCount, a.FaceBox, a.Map, a.Embedding);
        (row.FaceStatus2, row.FaceCount2, row.FaceBox2, row.Map2, row.Embedding2) = (b.Status, b.FaceCount, b.FaceBox, b.Map, b.Embedding);
    }

    // Runs the per-face stages on the photos, two per row (an odd last photo is paired with itself); with a batched
    // face model, the stages stop at the face tensors and the model embeds them up to BatchedFaceModel.MaxBatch per call.
    private FacePhotoEntry[] Compute(IReadOnlyList<KeyValuePair<FacePhotoKey, string>> photos)
    {
        var result = new FacePhotoEntry[photos.Count];
        if (photos.Count == 0) return result;
        var rows = new List<CachedFacePaths>();
        for (int i = 0; i < photos.Count; i += 2)
            rows.Add(new CachedFacePaths { Path1 = photos[i].Value, Path2 = photos[Math.Min(i + 1, photos.Count - 1)].Value });
        var faces = (_batched is null ? _faces : _prepare).Transform(_ml.Data.LoadFromEnumerable(rows, _pathsDefinition));
        bool detects = !_options.Aligned;
        var names = new List<string> { "FaceStatus1", "FaceStatus2" };
        names.AddRange(_batched is null ? ["Map1", "Map2", "Embedding1", "Embedding2"] : ["FaceTensor1", "FaceTensor2"]);
        if (detects) names.AddRange(["FaceCount1", "FaceCount2", "FaceBox1", "FaceBox2"]);
        var columns = names.Select(n => faces.Schema[n]).ToArray();
        var tensors = new float[photos.Count][];
        using (var cursor = faces.GetRowCursor(columns))
        {
            var face = new[] { Getters(cursor, faces.Schema, "1", detects, _batched is not null), Getters(cursor, faces.Schema, "2", detects, _batched is not null) };
            int row = 0;
            while (cursor.MoveNext())
            {
                for (int f = 0; f < 2 && 2 * row + f < photos.Count; f++)
                    (result[2 * row + f], tensors[2 * row + f]) = face[f]();
                row++;
            }
        }
        if (_batched is not null)
        {
            for (int start = 0; start < photos.Count; start += BatchedFaceModel.MaxBatch)
            {
                int n = Math.Min(BatchedFaceModel.MaxBatch, photos.Count - start);
                var (maps, embeddings) = _batched.Run(tensors.AsSpan(start, n));
                for (int i = 0; i < n; i++) result[start + i] = result[start + i] with { Map = maps[i], Embedding = embeddings[i] };
            }
        }
        for (int i = 0; i < photos.Count; i++) _cache.Add(photos[i].Key, result[i]);
        return result;
    }

    private static Func<(FacePhotoEntry Entry, float[] Tensor)> Getters(DataViewRowCursor cursor, DataViewSchema schema, string n, bool detects, bool tensorOnly)
    {
        var status = cursor.GetGetter<ReadOnlyMemory<char>>(schema["FaceStatus" + n]);
        var map = tensorOnly ? null : cursor.GetGetter<VBuffer<float>>(schema["Map" + n]);
        var embedding = tensorOnly ? null : cursor.GetGetter<VBuffer<float>>(schema["Embedding" + n]);
        var tensor = tensorOnly ? cursor.GetGetter<VBuffer<float>>(schema["FaceTensor" + n]) : null;
        var count = detects ? cursor.GetGetter<int>(schema["FaceCount" + n]) : null;
        var box = detects ? cursor.GetGetter<VBuffer<float>>(schema["FaceBox" + n]) : null;
        return () =>
        {
            ReadOnlyMemory<char> s = default;
            VBuffer<float> m = default, e = default, b = default, t = default;
            int c = 0;
            status(ref s);
            map?.Invoke(ref m);
            embedding?.Invoke(ref e);
            tensor?.Invoke(ref t);
            count?.Invoke(ref c);
            box?.Invoke(ref b);
            return (new FacePhotoEntry(s.ToString(), c, box is null ? new float[4] : b.DenseValues().ToArray(), m.DenseValues().ToArray(), e.DenseValues().ToArray()),
                tensor is null ? [] : t.DenseValues().ToArray());
        };
    }

    /// <summary>Disposes the batched face model.</summary>
    public void Dispose() => _batched?.Dispose();
}

/// <summary>
/// The photo pipeline's face model (the bytes its ApplyOnnxModel stage holds) in an ONNX Runtime session of its own,
/// rewritten by <see cref="OnnxDynamicBatch"/> to take up to <see cref="MaxBatch"/> faces per call.
/// </summary>
internal sealed class BatchedFaceModel : IDisposable
{
    /// <summary>Most faces per call.</summary>
    public const int MaxBatch = OnnxFaceEmbedder.MaxBatch;

    private readonly InferenceSession _session;
    private readonly string _input, _map, _embedding;

    public BatchedFaceModel(byte[] model, string input, string map, string embedding)
    {
        var dynamic = OnnxModelFile.Load(model);
        OnnxDynamicBatch.Rewrite(dynamic.Model);
        _session = OnnxSessions.Open("face model", dynamic.ToBytes(), intraOpThreads: 0);
        (_input, _map, _embedding) = (input, map, embedding);
        var dims = _session.InputMetadata[input].Dimensions;
        Shape = dims.Skip(1).Select(d => (long)d).ToArray();
    }

    /// <summary>One face's tensor shape (CHW).</summary>
    public long[] Shape { get; }

    /// <summary>Maps and embeddings of the faces' CHW tensors, one call.</summary>
    public (float[][] Maps, float[][] Embeddings) Run(ReadOnlySpan<float[]> tensors)
    {
        int n = tensors.Length, per = (int)Shape.Aggregate(1L, (a, b) => a * b);
        var input = new float[n * per];
        for (int i = 0; i < n; i++) tensors[i].AsSpan().CopyTo(input.AsSpan(i * per, per));
        using var x = OrtValue.CreateTensorValueFromMemory(input, [n, .. Shape]);
        using var outs = OnnxSessions.Run(_session, _input, x, _map, _embedding);
        var m = outs[0].GetTensorDataAsSpan<float>();
        var e = outs[1].GetTensorDataAsSpan<float>();
        int md = m.Length / n, ed = e.Length / n;
        var maps = new float[n][];
        var embeddings = new float[n][];
        for (int i = 0; i < n; i++)
        {
            maps[i] = m.Slice(i * md, md).ToArray();
            embeddings[i] = e.Slice(i * ed, ed).ToArray();
        }
        return (maps, embeddings);
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>
/// A fitted photo pipeline: in this process every Transform goes through <see cref="CachedFacePhotos"/> (each distinct
/// photo read, detected and embedded once while the cache holds it); saving writes the same stages as a plain chain,
/// row by row, which is what a loaded model runs.
/// </summary>
internal sealed class FacePhotoTransformer(TransformerChain<ITransformer> saveable, CachedFacePhotos faces, ITransformer rest) : ITransformer, IDisposable
{
    /// <summary>The per-photo memo of this fitted pipeline.</summary>
    public FacePhotoCache Cache => faces.Cache;

    public bool IsRowToRowMapper => ((ITransformer)saveable).IsRowToRowMapper;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => rest.GetOutputSchema(faces.GetOutputSchema(inputSchema));

    // PredictionEngine: one row at a time through the saved stages (nothing to share between rows there).
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)saveable).GetRowToRowMapper(inputSchema);

    public IDataView Transform(IDataView input) => rest.Transform(faces.Transform(input));

    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)saveable).Save(ctx);

    public void Dispose()
    {
        faces.Dispose();
        saveable.Dispose();
    }
}
