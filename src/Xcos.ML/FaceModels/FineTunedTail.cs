using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;

namespace Xcos.ML.FaceModels;

/// <summary>
/// The trained tail of a two-branch face model, stored as what training changed and nothing of the base model:
/// for every initializer of the base graph's tail, the difference (trained - base, float32). Together with the base
/// ONNX file (checked by its SHA-256) it gives the full two-branch model (<see cref="Assemble"/>).
/// <para>File layout, version 1 (little-endian): the 8 bytes <c>XCTAIL01</c>; an int32 n; n bytes of UTF-8 JSON
/// (<see cref="FineTunedTailHeader"/>); then, per header tensor in order, its float32 values.</para>
/// </summary>
internal static class FineTunedTail
{
    private static readonly byte[] Magic = "XCTAIL01"u8.ToArray();

    /// <summary>Prefix of every value and initializer of the copied tail in the assembled graph.</summary>
    public const string Prefix = "xcos_";

    /// <summary>Writes a tail file.</summary>
    /// <param name="path">Target (written beside and renamed).</param>
    /// <param name="header">Base model, node range and tensor list (shapes fill in from <paramref name="deltas"/>).</param>
    /// <param name="deltas">Trained minus base values per base initializer name, in header order.</param>
    public static void Write(string path, FineTunedTailHeader header, IReadOnlyList<(string Name, float[] Delta, long[] Shape)> deltas)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(deltas);
        header.FormatVersion = 1;
        header.Tensors = deltas.Select(d => new FineTunedTailTensor { Name = d.Name, Shape = d.Shape }).ToList();
        var json = JsonSerializer.SerializeToUtf8Bytes(header, FineTunedTailJson.Default.FineTunedTailHeader);
        var tmp = path + ".part";
        using (var f = File.Create(tmp))
        {
            f.Write(Magic);
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(n, json.Length);
            f.Write(n);
            f.Write(json);
            foreach (var (_, delta, _) in deltas)
            {
                var bytes = new byte[delta.Length * 4];
                for (int i = 0; i < delta.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), delta[i]);
                f.Write(bytes);
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads a tail file.</summary>
    /// <exception cref="InvalidDataException">Not a tail file, another version, or truncated (the message names the file).</exception>
    public static (FineTunedTailHeader Header, Dictionary<string, float[]> Deltas) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"fine-tuned tail not found: {path}", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 12 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a fine-tuned tail file (expected it to start with XCTAIL01)");
        int n = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        if (n <= 0 || 12L + n > bytes.Length) throw new InvalidDataException($"{path}: header length {n} runs past the end of the file ({bytes.Length} bytes): truncated");
        FineTunedTailHeader? h;
        try { h = JsonSerializer.Deserialize(bytes.AsSpan(12, n), FineTunedTailJson.Default.FineTunedTailHeader); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON: {e.Message}", e); }
        if (h is null || h.FormatVersion != 1) throw new InvalidDataException($"{path}: format version {h?.FormatVersion}; this reader knows version 1");
        var deltas = new Dictionary<string, float[]>(StringComparer.Ordinal);
        long at = 12L + n;
        foreach (var t in h.Tensors)
        {
            long count = t.Shape.Aggregate(1L, (a, b) => a * b);
            if (count < 0 || at + count * 4 > bytes.Length)
                throw new InvalidDataException($"{path}: tensor '{t.Name}' [{string.Join(",", t.Shape)}] runs past the end of the file: truncated");
            var v = new float[count];
            for (long i = 0; i < count; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(at + i * 4)));
            deltas[t.Name] = v;
            at += count * 4;
        }
        if (at != bytes.Length) throw new InvalidDataException($"{path}: {bytes.Length - at} bytes after the last tensor");
        return (h, deltas);
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    /// <summary>
    /// The two-branch model: the base graph unchanged (its embedding output stays the base model's), plus a copy of
    /// the nodes from <see cref="FineTunedTailHeader.FirstNode"/> to the node that makes
    /// <see cref="FineTunedTailHeader.BaseFeatureMap"/>, each value and initializer prefixed with <see cref="Prefix"/>,
    /// the initializers set to base + delta; the copy's map is added as the output <see cref="FineTunedTailHeader.FeatureMap"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The base file's SHA-256 is not the one the tail was trained on, or the graph does not have the recorded nodes.</exception>
    public static ModelProto Assemble(string baseOnnx, string tailPath)
    {
        var (h, deltas) = Read(tailPath);
        var sha = Sha256(baseOnnx);
        if (!string.Equals(sha, h.BaseSha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{baseOnnx}: SHA-256 {sha}, but {tailPath} was trained on {h.BaseOnnx} with SHA-256 {h.BaseSha256}; fetch the original model again (`xcos models fetch --force`)");
        var model = OnnxModelFile.Load(baseOnnx).Model;
        var g = model.Graph;
        var end = g.Node.Select((node, i) => (node, i)).FirstOrDefault(x => x.node.Output.Contains(h.BaseFeatureMap));
        if (end.node is null || h.FirstNode < 0 || h.FirstNode > end.i)
            throw new InvalidDataException($"{baseOnnx}: no node {h.FirstNode}..'{h.BaseFeatureMap}' range as {tailPath} records");
        var inits = g.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var made = new HashSet<string>(StringComparer.Ordinal);
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (int i = h.FirstNode; i <= end.i; i++)
        {
            var copy = g.Node[i].Clone();
            copy.Name = Prefix + copy.Name;
            for (int k = 0; k < copy.Input.Count; k++)
            {
                var name = copy.Input[k];
                if (inits.TryGetValue(name, out var init))
                {
                    if (!deltas.TryGetValue(name, out var delta))
                        throw new InvalidDataException($"{tailPath}: no values for '{name}' of node {g.Node[i].Name}");
                    if (used.Add(name))
                    {
                        var values = OnnxTensors.ToFloat(init);
                        if (values.Length != delta.Length) throw new InvalidDataException($"{tailPath}: '{name}' holds {delta.Length} values; the base model's has {values.Length}");
                        for (int j = 0; j < values.Length; j++) values[j] += delta[j];
                        g.Initializer.Add(OnnxTensors.FromFloat(Prefix + name, values, init.Dims.ToArray()));
                    }
                    copy.Input[k] = Prefix + name;
                }
                else if (made.Contains(name)) copy.Input[k] = Prefix + name;
            }
            for (int k = 0; k < copy.Output.Count; k++)
            {
                made.Add(copy.Output[k]);
                copy.Output[k] = Prefix + copy.Output[k];
            }
            g.Node.Add(copy);
        }
        var unused = deltas.Keys.Where(k => !used.Contains(k)).ToList();
        if (unused.Count > 0) throw new InvalidDataException($"{tailPath}: values for {string.Join(", ", unused.Take(5))} that no tail node of {baseOnnx} uses");
        g.Output.Add(new ValueInfoProto { Name = Prefix + h.BaseFeatureMap });
        if (Prefix + h.BaseFeatureMap != h.FeatureMap) throw new InvalidDataException($"{tailPath}: feature_map '{h.FeatureMap}' should be '{Prefix + h.BaseFeatureMap}'");
        model.MetadataProps.Add(new StringStringEntryProto { Key = "xcos.fine_tuned_tail", Value = $"{Path.GetFileName(tailPath)} on {h.BaseOnnx} (SHA-256 {h.BaseSha256})" });
        return model;
    }

    /// <summary>
    /// Writes the assembled model of a descriptor that names a base model and a tail (<see cref="FaceModelDescriptor.BaseOnnxFile"/>,
    /// <see cref="FaceModelDescriptor.TailFile"/>) to <paramref name="modelsDir"/>/<c>onnx_file</c> unless it is there with the
    /// recorded SHA-256; returns its path. The tail file is looked up next to the descriptor.
    /// </summary>
    /// <exception cref="FileNotFoundException">The base model is not in the models folder.</exception>
    /// <exception cref="InvalidDataException">The base model or the tail do not match (see <see cref="Assemble"/>).</exception>
    public static string EnsureAssembled(FaceModelDescriptor descriptor, string descriptorPath, string modelsDir)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var target = Path.Combine(modelsDir, descriptor.OnnxFile);
        if (descriptor.BaseOnnxFile is null || descriptor.TailFile is null) return target;
        if (File.Exists(target) && descriptor.OnnxSha256 is { } want && string.Equals(Sha256(target), want, StringComparison.OrdinalIgnoreCase)) return target;
        var baseOnnx = Path.Combine(modelsDir, descriptor.BaseOnnxFile);
        if (!File.Exists(baseOnnx)) throw new FileNotFoundException($"{descriptor.Name} is assembled from {descriptor.BaseOnnxFile}, not found in {modelsDir}: run `xcos models fetch`", baseOnnx);
        var tail = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(descriptorPath))!, descriptor.TailFile);
        var model = Assemble(baseOnnx, tail);
        Directory.CreateDirectory(modelsDir);
        var tmp = target + ".part";
        File.WriteAllBytes(tmp, Google.Protobuf.MessageExtensions.ToByteArray(model));
        File.Move(tmp, target, overwrite: true);
        if (descriptor.OnnxSha256 is { } expected && !string.Equals(Sha256(target), expected, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{target}: assembled from {descriptor.BaseOnnxFile} and {descriptor.TailFile}, but its SHA-256 is {Sha256(target)}, not the recorded {expected}");
        return target;
    }
}

/// <summary>Header of a <see cref="FineTunedTail"/> file.</summary>
internal sealed class FineTunedTailHeader
{
    /// <summary>Layout version (1).</summary>
    public int FormatVersion { get; set; } = 1;
    /// <summary>File name of the base model (e.g. fr_feature.onnx).</summary>
    public string BaseOnnx { get; set; } = "";
    /// <summary>SHA-256 of the base model file.</summary>
    public string BaseSha256 { get; set; } = "";
    /// <summary>Index of the first copied node in the base graph.</summary>
    public int FirstNode { get; set; }
    /// <summary>Base graph value the copy ends in (its last 7x7 map).</summary>
    public string BaseFeatureMap { get; set; } = "";
    /// <summary>Name of the copy's map in the assembled graph.</summary>
    public string FeatureMap { get; set; } = "";
    /// <summary>What the values are (free text).</summary>
    public string? Description { get; set; }
    /// <summary>The stored tensors in file order.</summary>
    public List<FineTunedTailTensor> Tensors { get; set; } = [];
}

/// <summary>One stored tensor.</summary>
internal sealed class FineTunedTailTensor
{
    /// <summary>Base initializer name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Dims.</summary>
    public long[] Shape { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(FineTunedTailHeader))]
internal sealed partial class FineTunedTailJson : JsonSerializerContext;
