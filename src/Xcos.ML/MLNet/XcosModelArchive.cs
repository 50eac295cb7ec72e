using System.IO.Compression;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML;
using Xcos.ML.Onnx;

namespace Xcos.ML.MLNet;

/// <summary>
/// The networks inside a saved ML.NET model (.zip). Each <c>ApplyOnnxModel</c> stage stores its ONNX bytes in an entry
/// ".../OnnxModel" (int32 length, then the model), which ML.NET writes to a temporary file and hands to ONNX Runtime
/// at load. <see cref="Save"/> adds a manifest entry, "Xcos/networks.json", version 1:
/// <code>{"version": 1, "networks": [{"entry": "TransformerChain/Transform_007/OnnxModel", "graph": "...", "sha256": "hex"}]}</code>
/// <see cref="Verify"/> (run by <see cref="Load"/>, <see cref="XcosPredictionPool{TSrc, TDst}.Load"/> and `xcos inspect`)
/// refuses, before ML.NET or ONNX Runtime sees them, a network that keeps weights in an external file (it could read any
/// file) and, when the manifest is there, a network whose SHA-256 differs from the one recorded (a swapped face model of
/// the same shape would otherwise load and score), naming the stage. A .zip written before the manifest existed has
/// none: its networks are still checked for external data, but a swap cannot be detected.
/// </summary>
public static class XcosModelArchive
{
    /// <summary>The manifest's entry name.</summary>
    public const string ManifestEntry = "Xcos/networks.json";
    private const string OnnxEntry = "OnnxModel";

    /// <summary>One network of the archive: its entry, its graph's name and its SHA-256 (lowercase hex).</summary>
    public sealed record Network(string Entry, string Graph, string Sha256);

    /// <summary>Saves <paramref name="model"/> with ML.NET and adds the manifest of its networks.</summary>
    public static void Save(MLContext ml, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ml.Model.Save(model, inputSchema, path);
        Seal(path);
    }

    /// <summary>Adds (or replaces) the manifest of the networks a saved .zip holds now.</summary>
    public static IReadOnlyList<Network> Seal(string path)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        var networks = Networks(zip, path);
        zip.GetEntry(ManifestEntry)?.Delete();
        using (var s = zip.CreateEntry(ManifestEntry).Open())
            JsonSerializer.Serialize(s, new Manifest(1, networks.ToArray()));
        return networks;
    }

    /// <summary>Checks every network of the .zip (see the type's remarks); returns them.</summary>
    /// <exception cref="InvalidDataException">A network keeps external data, is not ONNX, or differs from the manifest; the message names the file and the stage.</exception>
    public static IReadOnlyList<Network> Verify(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: not a .zip model ({e.Message})", e); }
        using (zip)
        {
            var networks = Networks(zip, path);
            if (zip.GetEntry(ManifestEntry) is not { } m) return networks;
            Manifest manifest;
            try
            {
                using var s = m.Open();
                manifest = JsonSerializer.Deserialize<Manifest>(s) ?? throw new InvalidDataException("empty");
            }
            catch (Exception e) when (e is JsonException or InvalidDataException or NotSupportedException)
            {
                throw new InvalidDataException($"{path}: the network manifest {ManifestEntry} is unreadable ({e.Message})", e);
            }
            if (manifest.Version != 1) throw new InvalidDataException($"{path}: network manifest version {manifest.Version}; this build reads version 1");
            var recorded = manifest.Networks.ToDictionary(n => n.Entry, StringComparer.Ordinal);
            foreach (var n in networks)
            {
                if (!recorded.Remove(n.Entry, out var want))
                    throw new InvalidDataException($"{path}: stage {Stage(n.Entry)} (graph '{n.Graph}') holds a network the manifest does not list; the model was changed after it was saved");
                if (!string.Equals(want.Sha256, n.Sha256, StringComparison.Ordinal))
                    throw new InvalidDataException($"{path}: stage {Stage(n.Entry)} (graph '{n.Graph}'): the network's SHA-256 is {n.Sha256[..12]}..., the manifest recorded {want.Sha256[..Math.Min(12, want.Sha256.Length)]}...; the network was replaced after the model was saved");
            }
            if (recorded.Count > 0) throw new InvalidDataException($"{path}: stage {Stage(recorded.Keys.First())} recorded in the manifest is missing from the model");
            return networks;
        }
    }

    /// <summary>
    /// Verifies the .zip (<see cref="Verify"/>), then loads it with ML.NET. A stage that fails to load (for example an
    /// identification stage whose gallery is missing) throws its own exception: ML.NET calls each stage's loader by
    /// reflection and wraps the failure in <see cref="TargetInvocationException"/>s, which are unwrapped here.
    /// </summary>
    public static ITransformer Load(MLContext ml, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(ml);
        Verify(path);
        try { return ml.Model.Load(path, out inputSchema); }
        catch (TargetInvocationException e) when (Cause(e) is { } cause)
        {
            ExceptionDispatchInfo.Capture(cause).Throw();
            throw;   // not reached
        }
    }

    // The exception inside reflection's wrappers, or null when there is none to surface.
    private static Exception? Cause(Exception e)
    {
        while (e is TargetInvocationException { InnerException: { } inner }) e = inner;
        return e is TargetInvocationException ? null : e;
    }

    private static string Stage(string entry) => entry.EndsWith("/" + OnnxEntry, StringComparison.Ordinal) ? entry[..^(OnnxEntry.Length + 1)] : entry;

    private static List<Network> Networks(ZipArchive zip, string path)
    {
        var list = new List<Network>();
        foreach (var e in zip.Entries.Where(e => e.Name == OnnxEntry).OrderBy(e => e.FullName, StringComparer.Ordinal))
        {
            byte[] bytes;
            using (var s = e.Open())
            using (var m = new MemoryStream())
            {
                s.CopyTo(m);
                bytes = m.ToArray();
            }
            int n = bytes.Length >= 4 ? BitConverter.ToInt32(bytes, 0) : -1;
            if (n < 0 || n != bytes.Length - 4) throw new InvalidDataException($"{path}: stage {Stage(e.FullName)}: the stored network is {bytes.Length} bytes with a length prefix of {n}");
            var onnx = bytes.AsSpan(4).ToArray();
            OnnxModelFile model;
            try { model = OnnxModelFile.Load(onnx); }
            catch (InvalidDataException x) { throw new InvalidDataException($"{path}: stage {Stage(e.FullName)}: {x.Message.Replace("(bytes): ", "", StringComparison.Ordinal)}", x); }
            list.Add(new Network(e.FullName, model.Graph.Name ?? "", Convert.ToHexStringLower(SHA256.HashData(onnx))));
        }
        return list;
    }

    private sealed record Manifest(int Version, Network[] Networks);
}
