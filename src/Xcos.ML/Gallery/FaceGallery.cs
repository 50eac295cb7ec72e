using System.Numerics.Tensors;
using Microsoft.Win32.SafeHandles;

namespace Xcos.ML.Gallery;

/// <summary>
/// The embedded, file-backed <see cref="IFaceGallery"/>: one append-only file (<see cref="GalleryFileFormat"/>) that
/// records the model, every enrolment and every removal. Embeddings stay in memory in a vector index; face codes stay
/// in the file and are read by offset for the few faces a search returns. Each enrolment is on disk before
/// <see cref="Enroll(string, float[], float[], string)"/> returns, so a process killed mid-enrolment loses only the face it was writing.
/// </summary>
/// <remarks>
/// One writer per file (the file is locked while open for writing); thread-safe within the process. A read-only open
/// takes no lock: it reads the records committed when it opened, while a writer (`xcos enroll`) appends.
/// </remarks>
public sealed class FaceGallery : IFaceGallery
{
    private sealed record Face(long Id, string Identity, string Source, float[] Embedding, long CodeOffset, string ContentHash = "");

    private readonly object _lock = new();
    private readonly FaceGalleryOptions _options;
    private readonly Dictionary<long, Face> _faces = [];
    private readonly SortedDictionary<string, List<long>> _byIdentity = new(StringComparer.Ordinal);
    private FileStream _file;
    private IVectorIndex _index;
    private long _nextId;
    private int _deadFaces;
    private bool _indexDirty;
    private HnswSettings _hnsw = new();   // the settings of the graph in use (by size unless the options fix them)
    private HnswCalibration? _calibration;   // recall@10 by search expansion of the graph in use, or null until measured
    private bool _calibrationSaved;
    private byte[]? _savedGraphDigest;   // payload digest of the graph file the graph in use equals while the index is not dirty
    private bool _disposed;
    private int _version;   // the file's format version: appends keep its framing until compaction rewrites it

    private FaceGallery(string path, FileStream file, GalleryFileFormat.Contents contents, FaceGalleryOptions options)
    {
        Path = path;
        _file = file;
        _options = options;
        Model = contents.Model;
        _version = contents.Version;
        foreach (var e in contents.Entries)
        {
            if (e.Type == GalleryFileFormat.FaceType)
            {
                if (_faces.ContainsKey(e.FaceId)) throw new InvalidDataException($"{path}: face id {e.FaceId} appears twice (record at offset {e.Offset})");
                _faces[e.FaceId] = new Face(e.FaceId, e.Identity, e.Source, e.Embedding!, e.CodeOffset, e.ContentHash);
                Ids(e.Identity).Add(e.FaceId);
                _nextId = Math.Max(_nextId, e.FaceId + 1);
            }
            else if (_byIdentity.Remove(e.Identity, out var gone))
            {
                foreach (var id in gone) _faces.Remove(id);
                _deadFaces += gone.Count;
            }
        }
        _index = OpenIndex(GalleryIndexChoice.Resolve(options.Index, _faces.Count));
    }

    /// <summary>Path of the append-only gallery file, as given.</summary>
    public string Path { get; }
    /// <inheritdoc/>
    public GalleryModelStamp Model { get; }
    /// <summary>The index kind in use now.</summary>
    public GalleryIndexKind IndexKind => _index is HnswVectorIndex ? GalleryIndexKind.Hnsw : GalleryIndexKind.Exact;
    /// <summary>Where the index came from: "built (why)", or "loaded N faces from PATH" with any faces added since.</summary>
    public string IndexOrigin { get; private set; } = "";
    /// <summary>The HNSW graph settings in use (meaningful when <see cref="IndexKind"/> is HNSW).</summary>
    public HnswSettings HnswSettings { get { lock (_lock) return _hnsw; } }
    /// <summary>The recall@10 target the search expansion is calibrated for, or null for the fixed expansion of <see cref="FaceGalleryOptions.Hnsw"/>.</summary>
    public double? RecallTarget => _options.Recall ?? (_options.Hnsw is null ? GalleryIndexChoice.DefaultRecall : null);
    /// <summary>The graph's recall calibration once measured or loaded (HNSW with a recall target), else null.</summary>
    public HnswCalibration? Calibration { get { lock (_lock) return _calibration; } }
    /// <summary>Where <see cref="Calibration"/> came from: "measured on N members" or "loaded from PATH"; empty before.</summary>
    public string CalibrationOrigin { get; private set; } = "";
    /// <summary>What was dropped from the end of the file when it was opened (a record cut by a crash), or null.</summary>
    public string? RecoveredTail { get; private init; }

    /// <inheritdoc/>
    public int FaceCount { get { lock (_lock) return _faces.Count; } }

    /// <inheritdoc/>
    public IReadOnlyList<string> Identities { get { lock (_lock) return _byIdentity.Keys.ToList(); } }

    /// <summary>Creates a new gallery file for <paramref name="model"/>; the header is written to a temporary file and renamed into place.</summary>
    /// <exception cref="IOException">The file exists already (nothing is overwritten).</exception>
    public static FaceGallery Create(string path, GalleryModelStamp model, FaceGalleryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        path = System.IO.Path.GetFullPath(path);
        if (File.Exists(path)) throw new IOException($"{path}: a file exists already; open it, or choose another path");
        var tmp = Data.AtomicFile.TempNextTo(path);
        using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            f.Write(GalleryFileFormat.Magic);
            f.Write(GalleryFileFormat.HeaderRecord(model));
            f.Flush(flushToDisk: true);
        }
        try { File.Move(tmp, path, overwrite: false); }
        catch { File.Delete(tmp); throw; }
        return Open(path, model, options);
    }

    /// <summary>Opens a gallery file built with <paramref name="expected"/> (null accepts whatever model it records).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a gallery, corrupt, or built with another model.</exception>
    /// <exception cref="IOException">Another process has it open for writing.</exception>
    public static FaceGallery Open(string path, GalleryModelStamp? expected, FaceGalleryOptions? options = null)
    {
        options ??= new FaceGalleryOptions();
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no gallery file (create one with `xcos enroll`)", path);
        var file = options.ReadOnly ? OpenForReading(path) : OpenForWriting(path);
        try
        {
            var contents = GalleryFileFormat.Read(file, path);
            if (expected is not null) contents.Model.CheckSame(expected, path);
            if (contents.TornTail is not null && !options.ReadOnly)
            {
                // the cut record was never acknowledged to the caller; drop it so appends follow the last complete one
                file.SetLength(contents.GoodLength);
                file.Flush(flushToDisk: true);
            }
            file.Position = contents.GoodLength;
            return new FaceGallery(path, file, contents, options) { RecoveredTail = contents.TornTail };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Rebuilds a damaged gallery from every record whose checksums hold (skipping damaged stretches), in the current
    /// format: the salvaged file is written next to it and renamed into place, and the damaged one is kept, unchanged,
    /// as "&lt;gallery&gt;.damaged" (or ".damaged.N"). Faces in the damaged stretches are lost; a damaged removal record
    /// brings its identity's earlier faces back. The header record must be intact.
    /// </summary>
    /// <exception cref="InvalidDataException">Not a gallery, or its header record is damaged.</exception>
    /// <exception cref="IOException">The gallery is open for writing elsewhere.</exception>
    public static GallerySalvageReport Salvage(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no gallery file", path);
        using var guard = OpenForWriting(path);   // no writer may append while the file is rebuilt
        var data = new byte[guard.Length];
        guard.ReadExactly(data);
        var found = GalleryFileFormat.ReadSalvageable(data, path);
        var live = new Dictionary<long, (GalleryFileFormat.Entry Entry, float[] Code)>();
        int removals = 0;
        for (int i = 0; i < found.Entries.Count; i++)
        {
            var e = found.Entries[i];
            if (e.Type == GalleryFileFormat.FaceType) live[e.FaceId] = (e, found.Codes[i]);
            else
            {
                removals++;
                foreach (var id in live.Where(kv => kv.Value.Entry.Identity == e.Identity).Select(kv => kv.Key).ToList()) live.Remove(id);
            }
        }
        var target = Data.AtomicFile.ResolveTarget(path);
        var copy = target + ".damaged";
        for (int n = 1; File.Exists(copy); n++) copy = $"{target}.damaged.{n}";
        using (var c = new FileStream(copy, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            c.Write(data);
            c.Flush(flushToDisk: true);
        }
        Data.AtomicFile.Write(target, f =>
        {
            f.Write(GalleryFileFormat.Magic);
            f.Write(GalleryFileFormat.HeaderRecord(found.Model));
            foreach (var (e, code) in live.Values.OrderBy(v => v.Entry.FaceId))
                f.Write(GalleryFileFormat.FaceRecord(e.FaceId, e.Identity, e.Source, e.Embedding, code, contentHash: e.ContentHash).Bytes);
        });
        // the graph was built for the damaged contents; its content digest would reject it, so drop it now
        File.Delete(HnswGraphFile.PathFor(path));
        File.Delete(HnswRecallCalibration.PathFor(path));
        return new GallerySalvageReport(live.Count, removals, found.Damaged.Count, found.Damaged.Sum(d => d.To - d.From), copy);
    }

    /// <summary>Opens <paramref name="path"/> when it exists, else creates it.</summary>
    public static FaceGallery OpenOrCreate(string path, GalleryModelStamp model, FaceGalleryOptions? options = null) =>
        File.Exists(path) ? Open(path, model, options) : Create(path, model, options);

    private static FileStream OpenForWriting(string path)
    {
        // Windows: readers may share a writer's file (they read committed records only); Unix: .NET's FileShare.None is an exclusive flock
        var share = OperatingSystem.IsWindows() ? FileShare.Read : FileShare.None;
        try { return new FileStream(path, FileMode.Open, FileAccess.ReadWrite, share, 1 << 16); }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new IOException($"{path}: the gallery is open for writing elsewhere ({e.Message})", e);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int UnixOpen(byte[] utf8Path, int flags);

    /// <summary>
    /// Opens the gallery for reading without locking it: a writer appending meanwhile is fine, since committed records
    /// never change in place (a record being appended reads as an incomplete tail and is left alone; compaction renames
    /// a new file over the path, and this handle keeps the old one).
    /// </summary>
    private static FileStream OpenForReading(string path)
    {
        if (OperatingSystem.IsWindows())
            return Shared(() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16));
        // .NET takes a shared flock for every read on Unix, which the writer's exclusive one refuses (a raw sharing
        // violation); open(2) takes none. O_RDONLY | O_CLOEXEC (its value differs between Linux, macOS and FreeBSD).
        int cloexec = OperatingSystem.IsMacOS() || OperatingSystem.IsIOS() ? 0x1000000 : OperatingSystem.IsFreeBSD() ? 0x100000 : 0x80000;
        int fd = UnixOpen(System.Text.Encoding.UTF8.GetBytes(path + "\0"), cloexec);
        if (fd >= 0) return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1 << 16);
        // not opened (missing, no permission): the managed open says why in its usual exception
        return Shared(() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16));

        FileStream Shared(Func<FileStream> open)
        {
            try { return open(); }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                throw new IOException($"{path}: cannot read the gallery while another process holds it (an `xcos enroll` running?): {e.Message}", e);
            }
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<GalleryFace> FacesOf(string identity)
    {
        lock (_lock)
            return _byIdentity.TryGetValue(identity, out var ids) ? ids.Select(id => Load(_faces[id])).ToList() : [];
    }

    /// <inheritdoc/>
    /// <remarks>A face of the same identity, source file and embedding (the same photo enrolled again) is not stored twice: the stored one is returned.</remarks>
    public GalleryFace Enroll(string identity, float[] embedding, float[] code, string sourceFile) => Enroll(identity, embedding, code, sourceFile, null);

    /// <inheritdoc/>
    /// <remarks>
    /// The hash is kept in the face record (format version 4); a gallery file of an older version is compacted to the
    /// current one first, so that the hash has a place.
    /// </remarks>
    public GalleryFace Enroll(string identity, float[] embedding, float[] code, string sourceFile, string? contentHash)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(identity);
        Model.CheckFace(Path, embedding, code, sourceFile);
        contentHash ??= "";
        lock (_lock)
        {
            EnsureWritable();
            if (contentHash.Length > 0 && _version < 4) Compact();
            // the same photo of the same identity again (a rerun of an enrolment) adds nothing, as in a database gallery
            if (_byIdentity.TryGetValue(identity, out var same)
                && same.Select(i => _faces[i]).FirstOrDefault(f => f.Source == sourceFile && f.Embedding.AsSpan().SequenceEqual(embedding)) is { } stored)
                return Load(stored);
            long id = _nextId;
            var (bytes, codeAt) = GalleryFileFormat.FaceRecord(id, identity, sourceFile, embedding, code, _version, contentHash);
            long start = _file.Length;
            Append(bytes);
            var face = new Face(id, identity, sourceFile, (float[])embedding.Clone(), start + codeAt, contentHash);
            _nextId++;
            _faces[id] = face;
            Ids(identity).Add(id);
            if (_index is ExactVectorIndex && GalleryIndexChoice.Resolve(_options.Index, _faces.Count) == GalleryIndexKind.Hnsw)
            {
                _index.Dispose();
                _index = BuildIndex(GalleryIndexKind.Hnsw);
                IndexOrigin = "built (the gallery grew past the exact scan's size)";
            }
            else _index.Add(id, Unit(embedding));
            _indexDirty = true;
            return new GalleryFace(id, identity, sourceFile, face.Embedding, (float[])code.Clone());
        }
    }

    /// <inheritdoc/>
    public GalleryFace? FindByContent(string identity, string contentHash)
    {
        ArgumentException.ThrowIfNullOrEmpty(contentHash);
        lock (_lock)
            return _byIdentity.TryGetValue(identity, out var ids) && ids.Select(i => _faces[i]).FirstOrDefault(f => f.ContentHash == contentHash) is { } face
                ? Load(face) : null;
    }

    /// <inheritdoc/>
    public int RemoveIdentity(string identity)
    {
        lock (_lock)
        {
            EnsureWritable();
            if (!_byIdentity.TryGetValue(identity, out var ids)) return 0;
            Append(GalleryFileFormat.RemoveRecord(identity, _version));
            _byIdentity.Remove(identity);
            foreach (var id in ids) { _faces.Remove(id); _index.Remove(id); }
            _indexDirty = true;
            _deadFaces += ids.Count;
            if (_deadFaces > _options.CompactAfterDeadFaces && _deadFaces > _faces.Count) Compact();
            return ids.Count;
        }
    }

    /// <summary>
    /// Rewrites the file with the live faces only: to a temporary file next to it, flushed, then renamed over it.
    /// A crash leaves either the old file or the new one, both complete.
    /// </summary>
    public void Compact()
    {
        lock (_lock)
        {
            EnsureWritable();
            var moved = new List<Face>(_faces.Count);
            // through the link to its target: renaming over a link would leave the real file stale, removed faces included
            Data.AtomicFile.Write(Path, f =>
            {
                f.Write(GalleryFileFormat.Magic);
                f.Write(GalleryFileFormat.HeaderRecord(Model));
                foreach (var face in _faces.Values.OrderBy(x => x.Id))
                {
                    var code = GalleryFileFormat.ReadCode(_file.SafeFileHandle, face.CodeOffset, Model.CodeLength);
                    var (bytes, codeAt) = GalleryFileFormat.FaceRecord(face.Id, face.Identity, face.Source, face.Embedding, code, contentHash: face.ContentHash);
                    moved.Add(face with { CodeOffset = f.Position + codeAt });
                    f.Write(bytes);
                }
            });
            _file.Dispose();
            _file = OpenForWriting(Path);
            _file.Position = _file.Length;
            foreach (var face in moved) _faces[face.Id] = face;
            _deadFaces = 0;
            _version = GalleryFileFormat.Version;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<IdentityCandidate> Search(ReadOnlySpan<float> embedding, int top)
    {
        if (embedding.Length != Model.EmbeddingDim) throw new ArgumentException($"probe embedding has {embedding.Length} values; the gallery holds {Model.EmbeddingDim}-d embeddings");
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        var unit = Unit(embedding);
        lock (_lock)
        {
            if (_faces.Count == 0) return [];
            // no more identities than the gallery holds: a huge `top` (int.MaxValue) must not size a buffer
            top = Math.Min(top, _byIdentity.Count);
            // each identity has at most `most` faces, so the best `top * most` faces hold the best face of each of the top identities
            int most = _byIdentity.Values.Max(l => l.Count);
            if (_index is HnswVectorIndex graph && RecallTarget is { } target)
            {
                int ef = Calibrated(graph).ExpansionFor(target);
                if (graph.ExpansionSearch != ef) graph.ExpansionSearch = ef;
            }
            var hits = _index.Search(unit, (int)Math.Min(_faces.Count, (long)top * most));
            if (_index is HnswVectorIndex)
            {
                // the graph's cosines are as precise as its storage (bf16: about 1e-3); the threshold needs the exact scan's ones
                hits = hits.Where(h => _faces.ContainsKey(h.Key))
                    .Select(h => (h.Key, Cosine: TensorPrimitives.Dot(unit, Unit(_faces[h.Key].Embedding))))
                    .OrderByDescending(h => h.Cosine).ToList();
            }
            var result = new List<IdentityCandidate>(top);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (key, cosine) in hits)
            {
                if (!_faces.TryGetValue(key, out var f) || !seen.Add(f.Identity)) continue;
                result.Add(new IdentityCandidate(f.Identity, cosine, Load(f)));
                if (result.Count == top) break;
            }
            return result;
        }
    }

    private GalleryFace Load(Face f) =>
        new(f.Id, f.Identity, f.Source, f.Embedding, GalleryFileFormat.ReadCode(_file.SafeFileHandle, f.CodeOffset, Model.CodeLength));

    private List<long> Ids(string identity)
    {
        if (!_byIdentity.TryGetValue(identity, out var l)) _byIdentity[identity] = l = [];
        return l;
    }

    // The saved graph when it still matches the gallery (plus the faces enrolled after it was saved), else a new build.
    private IVectorIndex OpenIndex(GalleryIndexKind kind)
    {
        _indexDirty = kind == GalleryIndexKind.Hnsw;
        _hnsw = _options.Hnsw ?? GalleryIndexChoice.SettingsFor(_faces.Count);
        if (kind != GalleryIndexKind.Hnsw || !_options.SaveIndex)
        {
            IndexOrigin = "built";
            return BuildIndex(kind);
        }
        var graphPath = HnswGraphFile.PathFor(Path);
        string why;
        try
        {
            var header = HnswGraphFile.ReadHeader(graphPath, out why);
            if (header is not null)
            {
                var faces = _faces.Values.OrderBy(f => f.Id).ToList();
                if (header.Faces > faces.Count) why = $"{graphPath}: saved for {header.Faces} faces, the gallery holds {faces.Count}";
                else
                {
                    using var digest = new GalleryContentDigest.Builder();
                    for (int i = 0; i < header.Faces; i++) digest.Append(faces[i].Id, faces[i].Embedding);
                    if (!digest.Current().Hash.AsSpan().SequenceEqual(header.ContentHash))
                        why = $"{graphPath}: saved for other faces (removed since, or another gallery's graph)";
                    else if (HnswGraphFile.TryLoad(graphPath, header, Model.EmbeddingDim, _hnsw, faces.Take((int)header.Faces).Select(f => f.Id).ToList(), out why) is { } loaded)
                    {
                        var since = faces.Skip((int)header.Faces).ToList();
                        AddInChunks(loaded, since);
                        _indexDirty = since.Count > 0;
                        IndexOrigin = $"loaded {header.Faces} faces from {graphPath}" + (since.Count > 0 ? $", added {since.Count} enrolled since" : "");
                        _savedGraphDigest = header.PayloadHash;
                        LoadCalibration(header.PayloadHash);
                        return loaded;
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Cloud.Unum.USearch.USearchException)
        {
            why = $"{graphPath}: {e.Message}";
        }
        IndexOrigin = $"built ({why})";
        return BuildIndex(kind);
    }

    /// <summary>
    /// Writes the HNSW graph to "&lt;gallery&gt;.hnsw" (temporary file, then a rename), tied to the faces it holds.
    /// Does nothing for an exact index. Closing a writable gallery does this when the graph changed.
    /// </summary>
    public void SaveIndex()
    {
        lock (_lock)
        {
            EnsureWritable();
            if (_index is not HnswVectorIndex h) return;
            using var digest = new GalleryContentDigest.Builder();
            foreach (var f in _faces.Values.OrderBy(x => x.Id)) digest.Append(f.Id, f.Embedding);
            _savedGraphDigest = HnswGraphFile.Save(HnswGraphFile.PathFor(Path), h, digest.Current());
            _indexDirty = false;
            // the calibration travels with the graph, so a read-only open (`xcos identify`) does not measure it again
            if (RecallTarget is not null) SaveCalibration(Calibrated(h));
        }
    }

    private void SaveCalibration(HnswCalibration c)
    {
        HnswRecallCalibration.Save(HnswRecallCalibration.PathFor(Path), c, _savedGraphDigest!);
        _calibrationSaved = true;
    }

    // The stored calibration of the loaded graph, when it was measured on this very graph and still fits its size.
    private void LoadCalibration(byte[] graphDigest)
    {
        _calibration = null;
        if (RecallTarget is null) return;
        var path = HnswRecallCalibration.PathFor(Path);
        try
        {
            if (HnswRecallCalibration.TryLoad(path, graphDigest, out _) is { } c && c.Fits(_faces.Count))
            {
                _calibration = c;
                _calibrationSaved = true;
                CalibrationOrigin = $"loaded from {path}";
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    // The graph's calibration, measured now when there is none or the gallery has grown or shrunk by over a tenth since.
    private HnswCalibration Calibrated(HnswVectorIndex graph)
    {
        if (_calibration is { } c && c.Fits(_faces.Count)) return c;
        var faces = _faces.Values.OrderBy(f => f.Id).ToList();
        _calibration = HnswRecallCalibration.Calibrate(graph, faces.Count, i => faces[i].Id, i => faces[i].Embedding);
        _calibrationSaved = false;   // written next to the graph on close
        CalibrationOrigin = $"measured on {_calibration.Samples} members";
        return _calibration;
    }

    private IVectorIndex BuildIndex(GalleryIndexKind kind)
    {
        _calibration = null;
        if (kind == GalleryIndexKind.Hnsw) _hnsw = _options.Hnsw ?? GalleryIndexChoice.SettingsFor(_faces.Count);
        IVectorIndex index = kind == GalleryIndexKind.Hnsw
            ? new HnswVectorIndex(Model.EmbeddingDim, _hnsw)
            : new ExactVectorIndex(Model.EmbeddingDim, _faces.Count);
        var faces = _faces.Values.OrderBy(x => x.Id).ToList();
        if (index is HnswVectorIndex h) AddInChunks(h, faces);
        else foreach (var f in faces) index.Add(f.Id, Unit(f.Embedding));
        return index;
    }

    // Unit vectors go to the graph in chunks, so the build needs one chunk of scratch memory, not a copy of the gallery.
    private static void AddInChunks(HnswVectorIndex h, IReadOnlyList<Face> faces)
    {
        const int chunk = 8192;
        int dim = h.Dimension;
        for (int start = 0; start < faces.Count; start += chunk)
        {
            int n = Math.Min(chunk, faces.Count - start);
            var keys = new long[n];
            var rows = new float[(long)n * dim];
            for (int i = 0; i < n; i++)
            {
                var f = faces[start + i];
                keys[i] = f.Id;
                Unit(f.Embedding).CopyTo(rows, (long)i * dim);
            }
            h.AddRange(keys, rows);
        }
    }

    private void Append(byte[] record)
    {
        long at = _file.Length;
        try
        {
            // straight to the file, past the stream's buffer: a failed write left in the buffer would be written again
            // (half a record after the truncation below) when the stream is flushed or closed
            RandomAccess.Write(_file.SafeFileHandle, record, at);
            _file.Flush(flushToDisk: true);
        }
        catch (Exception e)
        {
            // a failed write must not leave half a record for the next append to follow
            try { _file.SetLength(at); } catch (IOException) { }
            // .NET reports EFBIG (past the file-size limit or the file system's largest file) as an argument error: it is a failed write
            if (e is ArgumentOutOfRangeException) throw new IOException($"{Path}: the record was not written: {e.Message}", e);
            throw;
        }
    }

    private void EnsureWritable()
    {
        if (_options.ReadOnly) throw new InvalidOperationException($"{Path}: the gallery was opened read-only");
    }

    private static float[] Unit(ReadOnlySpan<float> v)
    {
        var u = v.ToArray();
        float n = TensorPrimitives.Norm(u);
        if (n > 0) TensorPrimitives.Divide(u, n, u);
        return u;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            if (_indexDirty && _index is HnswVectorIndex && _options.SaveIndex && !_options.ReadOnly)
            {
                // the graph is a cache of what the gallery file holds: failing to keep it costs a rebuild next time, nothing else
                try { SaveIndex(); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
            else if (!_indexDirty && !_calibrationSaved && _calibration is { } c && _savedGraphDigest is not null && _options.SaveIndex && !_options.ReadOnly)
            {
                // the graph file is current; only the calibration measured since is missing next to it
                try { SaveCalibration(c); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
            _index.Dispose();
            _file.Dispose();
        }
    }
}
