using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.Onnx;

namespace Xcos.ML.MLNet;

/// <summary>
/// The entries of a saved ML.NET model (.zip), checked before ML.NET reads any of them. Each <c>ApplyOnnxModel</c> stage
/// stores its ONNX bytes in an entry ".../OnnxModel" (int32 length, then the model), which ML.NET writes to a temporary
/// file and hands to ONNX Runtime at load; "Schema" holds the input schema (ML.NET's binary data view format) and each
/// "Model.key" a stage's parameters. <see cref="Save"/> adds a manifest entry, "Xcos/networks.json".
/// <see cref="Verify"/> (run by <see cref="Load"/>, <see cref="XcosPredictionPool{TSrc, TDst}.Load"/> and `xcos inspect`)
/// refuses, naming the file and the entry:
/// <list type="bullet">
/// <item>any entry whose bytes do not match the zip's own CRC-32, or that cannot be decompressed (random damage, with
/// or without a manifest);</item>
/// <item>with a manifest of version 2, any entry whose SHA-256 differs from the recorded one, any entry the manifest
/// does not list and any listed entry that is missing (a swapped face model of the same shape, an edited threshold);</item>
/// <item>a network that keeps weights in an external file (it could read any file), manifest or not;</item>
/// <item>a "Schema" entry that ML.NET's own reader cannot read to its end: ML.NET 5 reads arrays in a loop that never
/// ends when the data stops early, so a damaged Schema would hang <c>Model.Load</c> at 100 % CPU. It is read here first
/// from memory, through a stream that fails at the end instead.</item>
/// </list>
/// A .zip written with plain <c>ml.Model.Save</c> has no manifest: it still loads, but an entry rewritten with a
/// matching CRC (a swapped network, an edited Model.key) cannot be detected.
/// </summary>
public static class XcosModelArchive
{
    /// <summary>The manifest's entry name.</summary>
    public const string ManifestEntry = "Xcos/networks.json";

    /// <summary>
    /// The manifest version <see cref="Seal"/> writes. Version 1 (still read): <c>{"Version": 1, "Networks":
    /// [{"Entry": "TransformerChain/Transform_007/OnnxModel", "Graph": "...", "Sha256": "hex"}]}</c>, the networks only.
    /// Version 2 adds <c>"Entries": [{"Entry": "Schema", "Sha256": "hex"}, ...]</c>: every entry of the .zip but the
    /// manifest itself, sorted by name (SHA-256 of the entry's bytes, lowercase hex).
    /// </summary>
    public const int ManifestVersion = 2;
    private const string OnnxEntry = "OnnxModel";
    private const string SchemaEntry = "Schema";

    /// <summary>One network of the archive: its entry, its graph's name and its SHA-256 (lowercase hex).</summary>
    public sealed record Network(string Entry, string Graph, string Sha256);

    /// <summary>Saves <paramref name="model"/> with ML.NET and adds the manifest of its entries.</summary>
    public static void Save(MLContext ml, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ml.Model.Save(model, inputSchema, path);
        Seal(path);
    }

    /// <summary>Adds (or replaces) the manifest (version <see cref="ManifestVersion"/>) of the entries a saved .zip holds now.</summary>
    public static IReadOnlyList<Network> Seal(string path)
    {
        List<Content> contents;
        List<Network> networks;
        using (var read = ZipFile.OpenRead(path))
        {
            contents = Read(read, path);
            contents.RemoveAll(c => c.Name == ManifestEntry);
            networks = Networks(read, contents, path);
        }
        var entries = contents.Select(c => new EntryDigest(c.Name, c.Sha256)).ToArray();
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        zip.GetEntry(ManifestEntry)?.Delete();
        using (var s = zip.CreateEntry(ManifestEntry).Open())
            JsonSerializer.Serialize(s, new Manifest(ManifestVersion, networks.ToArray(), entries));
        return networks;
    }

    /// <summary>Checks every entry of the .zip (see the type's remarks) before ML.NET reads it; returns the networks.</summary>
    /// <exception cref="InvalidDataException">An entry is damaged, differs from the manifest, is unlisted or missing, a network keeps external data or is not ONNX, or the Schema is unreadable; the message starts with the file and names the entry or stage.</exception>
    public static IReadOnlyList<Network> Verify(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: not a .zip model ({e.Message})", e); }
        using (zip)
        {
            // the central directory is read on first use of Entries
            try { _ = zip.Entries; }
            catch (InvalidDataException e) { throw new InvalidDataException($"{path}: not a .zip model ({e.Message})", e); }
            var contents = Read(zip, path);
            var manifest = ReadManifest(contents, path);
            contents.RemoveAll(c => c.Name == ManifestEntry);
            // a recorded digest is compared before anything parses the bytes it covers
            if (manifest is { Version: >= 2 }) CheckEntries(contents, manifest.Entries ?? [], path);
            var networks = Networks(zip, contents, path);
            if (manifest is { Version: 1 }) CheckNetworks(networks, manifest.Networks ?? [], path);
            if (contents.Find(c => c.Name == SchemaEntry) is { Bytes: { } schema }) CheckSchema(schema, path);
            return networks;
        }
    }

    /// <summary>
    /// Verifies the .zip (<see cref="Verify"/>), then loads it with ML.NET. A stage that fails to load (for example an
    /// identification stage whose gallery is missing) throws its own exception: ML.NET calls each stage's loader by
    /// reflection and wraps the failure in <see cref="TargetInvocationException"/>s (and "Error during class
    /// instantiation"), which are unwrapped here. Whatever ML.NET itself throws while reading the entries (for example
    /// a Model.key of a .zip without a manifest rewritten with a matching CRC) becomes an <see cref="InvalidDataException"/>
    /// that names the file, with ML.NET's exception inside.
    /// </summary>
    public static ITransformer Load(MLContext ml, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(ml);
        Verify(path);
        try { return ml.Model.Load(path, out inputSchema); }
        catch (Exception e)
        {
            var cause = Cause(e) ?? e;
            if (ThrownByAStage(cause))
            {
                ExceptionDispatchInfo.Capture(cause).Throw();
                throw;   // not reached
            }
            // ML.NET's decoder reports damage as FormatException ("Corrupt model file"), an assembly or culture it cannot
            // find (a loader's name), a column or expression it cannot bind, an index or size out of range: none names the file
            throw new InvalidDataException($"{path}: ML.NET cannot load the model ({cause.GetType().Name}: {cause.Message.ReplaceLineEndings(" ")})", cause);
        }
    }

    // ML.NET's component catalog wraps a loader's failure in InvalidOperationException("Error during class instantiation")
    // around reflection's TargetInvocationException
    private static bool IsLoaderWrapper(Exception e) => e is InvalidOperationException { InnerException: TargetInvocationException };

    // Thrown in this library's code (a stage's factory, as ML.NET loads it), not by ML.NET's reading of the entries.
    private static bool ThrownByAStage(Exception e) =>
        new StackTrace(e, fNeedFileInfo: false).GetFrames().Any(f => f.GetMethod()?.DeclaringType is { } t && t.Assembly == typeof(XcosModelArchive).Assembly && t != typeof(XcosModelArchive));

    // The exception inside reflection's and ML.NET's wrappers, or null when there is none to surface.
    private static Exception? Cause(Exception e)
    {
        while (e is TargetInvocationException { InnerException: { } inner } || IsLoaderWrapper(e)) e = e.InnerException!;
        return e is TargetInvocationException ? null : e;
    }

    private static string Stage(string entry) => IsNetwork(entry) && entry.Length > OnnxEntry.Length ? entry[..^(OnnxEntry.Length + 1)] : entry;

    // ML.NET names entries with '/' (or, written on Windows, a backslash)
    private static bool IsNetwork(string entry) => entry == OnnxEntry || entry.EndsWith("/" + OnnxEntry, StringComparison.Ordinal) || entry.EndsWith("\\" + OnnxEntry, StringComparison.Ordinal);

    // An entry's name, the SHA-256 of its bytes, and the bytes of the small entries read again (Schema, the manifest).
    private sealed record Content(string Name, string Sha256, byte[]? Bytes);

    private static readonly HashSet<string> Kept = new(StringComparer.Ordinal) { SchemaEntry, ManifestEntry };

    // Every entry read once, as a stream: checked against the length and CRC-32 the zip recorded for it (.NET does not
    // check them on reading) and hashed.
    private static List<Content> Read(ZipArchive zip, string path)
    {
        var list = new List<Content>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new byte[1 << 16];
        foreach (var e in zip.Entries.OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            if (!seen.Add(e.FullName)) throw new InvalidDataException($"{path}: entry '{e.FullName}' appears twice");
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var kept = Kept.Contains(e.FullName) ? new MemoryStream() : null;
            var crc = new System.IO.Hashing.Crc32();
            long length = 0;
            try
            {
                using var s = e.Open();
                for (int n; (n = s.Read(buffer)) > 0; length += n)
                {
                    crc.Append(buffer.AsSpan(0, n));
                    sha.AppendData(buffer, 0, n);
                    kept?.Write(buffer, 0, n);
                }
            }
            catch (Exception x) when (x is InvalidDataException or NotSupportedException or IOException)
            {
                throw new InvalidDataException($"{path}: entry '{e.FullName}' cannot be read ({x.Message})", x);
            }
            uint crc32 = crc.GetCurrentHashAsUInt32();
            if (crc32 != e.Crc32 || length != e.Length)
                throw new InvalidDataException($"{path}: entry '{e.FullName}' is damaged: {length} bytes with CRC-32 {crc32:x8}, the zip recorded {e.Length} bytes with {e.Crc32:x8}");
            list.Add(new Content(e.FullName, Convert.ToHexStringLower(sha.GetHashAndReset()), kept?.ToArray()));
        }
        return list;
    }

    private static Manifest? ReadManifest(List<Content> contents, string path)
    {
        if (contents.Find(c => c.Name == ManifestEntry) is not { } m) return null;
        Manifest manifest;
        try { manifest = JsonSerializer.Deserialize<Manifest>(m.Bytes!) ?? throw new InvalidDataException("empty"); }
        catch (Exception e) when (e is JsonException or InvalidDataException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: the manifest {ManifestEntry} is unreadable ({e.Message})", e);
        }
        if (manifest.Version is < 1 or > ManifestVersion)
            throw new InvalidDataException($"{path}: manifest version {manifest.Version}; this build reads versions 1 to {ManifestVersion}");
        if (manifest.Version >= 2 && manifest.Entries is null)
            throw new InvalidDataException($"{path}: the version {manifest.Version} manifest lists no entries");
        return manifest;
    }

    private static string Named(string entry) => IsNetwork(entry) ? $"entry '{entry}' (the network of stage {Stage(entry)})" : $"entry '{entry}'";

    private static void CheckEntries(List<Content> contents, EntryDigest[] recorded, string path)
    {
        var want = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var r in recorded)
            if (r?.Entry is null || r.Sha256 is null || !want.TryAdd(r.Entry, r.Sha256))
                throw new InvalidDataException($"{path}: the manifest lists an entry twice or without a name or SHA-256");
        foreach (var c in contents)
        {
            if (!want.Remove(c.Name, out var sha))
                throw new InvalidDataException($"{path}: {Named(c.Name)} is not in the manifest; it was added after the model was saved");
            if (!string.Equals(sha, c.Sha256, StringComparison.Ordinal))
                throw new InvalidDataException($"{path}: {Named(c.Name)}: its SHA-256 is {c.Sha256[..12]}..., the manifest recorded {sha[..Math.Min(12, sha.Length)]}...; it was changed after the model was saved");
        }
        if (want.Count > 0) throw new InvalidDataException($"{path}: {Named(want.Keys.First())} recorded in the manifest is missing from the model");
    }

    private static void CheckNetworks(IReadOnlyList<Network> networks, Network[] recordedNetworks, string path)
    {
        var recorded = new Dictionary<string, Network>(StringComparer.Ordinal);
        foreach (var n in recordedNetworks)
            if (n?.Entry is null || n.Sha256 is null || !recorded.TryAdd(n.Entry, n))
                throw new InvalidDataException($"{path}: the manifest lists a network twice or without an entry or SHA-256");
        foreach (var n in networks)
        {
            if (!recorded.Remove(n.Entry, out var want))
                throw new InvalidDataException($"{path}: stage {Stage(n.Entry)} (graph '{n.Graph}') holds a network the manifest does not list; the model was changed after it was saved");
            if (!string.Equals(want.Sha256, n.Sha256, StringComparison.Ordinal))
                throw new InvalidDataException($"{path}: stage {Stage(n.Entry)} (graph '{n.Graph}'): the network's SHA-256 is {n.Sha256[..12]}..., the manifest recorded {want.Sha256[..Math.Min(12, want.Sha256.Length)]}...; the network was replaced after the model was saved");
        }
        if (recorded.Count > 0) throw new InvalidDataException($"{path}: stage {Stage(recorded.Keys.First())} recorded in the manifest is missing from the model");
    }

    // Each network read again, one at a time (a face model's can be hundreds of MB), after its digest was checked.
    private static List<Network> Networks(ZipArchive zip, List<Content> contents, string path)
    {
        var list = new List<Network>();
        foreach (var e in contents.Where(e => IsNetwork(e.Name)))
        {
            byte[] bytes;
            using (var s = zip.GetEntry(e.Name)!.Open())
            using (var m = new MemoryStream())
            {
                s.CopyTo(m);
                bytes = m.ToArray();
            }
            int n = bytes.Length >= 4 ? BitConverter.ToInt32(bytes, 0) : -1;
            if (n < 0 || n != bytes.Length - 4) throw new InvalidDataException($"{path}: stage {Stage(e.Name)}: the stored network is {bytes.Length} bytes with a length prefix of {n}");
            var onnx = bytes.AsSpan(4).ToArray();
            OnnxModelFile model;
            try { model = OnnxModelFile.Load(onnx); }
            catch (InvalidDataException x) { throw new InvalidDataException($"{path}: stage {Stage(e.Name)}: {x.Message.Replace("(bytes): ", "", StringComparison.Ordinal)}", x); }
            list.Add(new Network(e.Name, model.Graph.Name ?? "", Convert.ToHexStringLower(SHA256.HashData(onnx))));
        }
        return list;
    }

    // ML.NET's binary reader over the Schema bytes, through a stream that throws where the data ends: where ML.NET's own
    // read of the same bytes would loop forever, this one fails. Annotations are read too (ML.NET reads them lazily).
    private static void CheckSchema(byte[] bytes, string path)
    {
        try
        {
            var view = new MLContext().Data.LoadFromBinary(new StrictSource(bytes));
            foreach (var column in view.Schema)
                foreach (var annotation in column.Annotations.Schema)
                    ReadAnnotation.MakeGenericMethod(annotation.Type.RawType).Invoke(null, [column.Annotations, annotation.Name]);
        }
        catch (Exception e)
        {
            // ML.NET's reader reports damage with several types (format, end of stream, overflow, argument, or out of
            // memory for an array of the size a damaged count claims): all mean the same
            var cause = Cause(e) ?? e;
            throw new InvalidDataException($"{path}: entry '{SchemaEntry}' (the input schema) is unreadable ({cause.Message.ReplaceLineEndings(" ")})", cause);
        }
    }

    private static readonly MethodInfo ReadAnnotation = typeof(XcosModelArchive).GetMethod(nameof(ReadAnnotationValue), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static void ReadAnnotationValue<T>(DataViewSchema.Annotations annotations, string kind)
    {
        T value = default!;
        annotations.GetValue(kind, ref value);
    }

    private sealed class StrictSource(byte[] bytes) : IMultiStreamSource
    {
        public int Count => 1;
        public string? GetPathOrNull(int index) => null;
        public Stream Open(int index) => new StrictStream(bytes);
        public TextReader OpenTextReader(int index) => new StreamReader(Open(index));
    }

    private sealed class StrictStream(byte[] bytes) : MemoryStream(bytes, writable: false)
    {
        public override int Read(byte[] buffer, int offset, int count) => Checked(base.Read(buffer, offset, count), count);
        public override int Read(Span<byte> buffer) => Checked(base.Read(buffer), buffer.Length);
        public override int ReadByte() => base.ReadByte() is var b and >= 0 ? b : throw new EndOfStreamException("the data ends early");
        private static int Checked(int read, int asked) => read == 0 && asked > 0 ? throw new EndOfStreamException("the data ends early") : read;
    }

    private sealed record EntryDigest(string Entry, string Sha256);

    private sealed record Manifest(int Version, Network[]? Networks, EntryDigest[]? Entries);
}
