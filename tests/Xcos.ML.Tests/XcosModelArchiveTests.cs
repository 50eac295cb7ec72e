using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xcos.ML.MLNet;
using Xcos.ML.Onnx;
using Xcos.ML.Onnx.Proto;
using Xunit.Abstractions;

namespace Xcos.ML.Tests;

/// <summary>
/// The entries of a saved .zip: external data refused, a swapped network or any changed entry caught by its SHA-256,
/// random damage caught by the zip's CRC-32, a damaged Schema refused before ML.NET's reader hangs on it.
/// </summary>
public sealed class XcosModelArchiveTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-archive").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private sealed class Row
    {
        [VectorType(4)] public float[] X { get; set; } = [];
    }

    // y = x + w: a network whose weight is its only difference from another of the same shape
    private static ModelProto AddModel(float w)
    {
        var b = new OnnxGraphBuilder("add");
        var x = b.AddInput("X", [4]);
        b.AddOutput(b.Add(x, b.Initializer("w", [w, w, w, w], [4])), "y", [4]);
        return ModelProto.Parser.ParseFrom(b.ToBytes());
    }

    private static ModelProto WithExternalWeight(ModelProto m, string location, TensorProto? t = null)
    {
        t ??= m.Graph.Initializer[0];
        t.RawData = ByteString.Empty;
        t.FloatData.Clear();
        t.DataLocation = TensorProto.Types.DataLocation.External;
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        return m;
    }

    private (MLContext Ml, IDataView Data, string Zip) Saved(bool manifest)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { X = [1, 2, 3, 4] } });
        var model = ml.Transforms.ApplyOnnxModel(["y"], ["X"], new MemoryStream(AddModel(0.5f).ToByteArray())).Fit(data);
        var zip = Path.Combine(_dir, $"m{Guid.NewGuid():N}.zip");
        if (manifest) XcosModelArchive.Save(ml, model, data.Schema, zip);
        else ml.Model.Save(model, data.Schema, zip);
        (model as IDisposable)?.Dispose();
        return (ml, data, zip);
    }

    private static void ReplaceNetwork(string zip, ModelProto with)
    {
        using var z = ZipFile.Open(zip, ZipArchiveMode.Update);
        var e = z.Entries.Single(x => x.Name == "OnnxModel");
        var name = e.FullName;
        e.Delete();
        var bytes = with.ToByteArray();
        using var s = z.CreateEntry(name).Open();
        s.Write(BitConverter.GetBytes(bytes.Length));
        s.Write(bytes);
    }

    [Fact]
    public void A_sealed_zip_loads_and_scores()
    {
        var (ml, data, zip) = Saved(manifest: true);
        var n = Assert.Single(XcosModelArchive.Verify(zip));
        Assert.Equal(64, n.Sha256.Length);
        var model = XcosModelArchive.Load(ml, zip, out _);
        var y = model.Transform(data).GetColumn<float[]>("y").Single();
        Assert.Equal(new float[] { 1.5f, 2.5f, 3.5f, 4.5f }, y);
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_network_swapped_for_one_of_the_same_shape_is_refused_naming_its_stage()
    {
        var (_, _, zip) = Saved(manifest: true);
        ReplaceNetwork(zip, AddModel(0.25f));
        var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Verify(zip));
        Assert.Contains(zip, e.Message);
        Assert.Contains("stage TransformerChain", e.Message);
        Assert.Contains("SHA-256", e.Message);
    }

    [Fact]
    public void External_data_in_a_zip_is_refused_before_ONNX_Runtime_opens_it_with_or_without_a_manifest()
    {
        foreach (var manifest in new[] { true, false })
        {
            var (ml, _, zip) = Saved(manifest);
            ReplaceNetwork(zip, WithExternalWeight(AddModel(0.5f), "../../../../../../../etc/hostname"));
            var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Load(ml, zip, out _));
            // a manifest's SHA-256 refuses the changed entry before its network is parsed
            Assert.Contains(manifest ? "changed after the model was saved" : "external file", e.Message);
        }
    }

    [Fact]
    public void A_zip_saved_without_a_manifest_still_loads()
    {
        var (ml, data, zip) = Saved(manifest: false);
        Assert.Single(XcosModelArchive.Verify(zip));
        var model = XcosModelArchive.Load(ml, zip, out _);
        Assert.Equal(1.5f, model.Transform(data).GetColumn<float[]>("y").Single()[0]);
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void An_onnx_file_may_keep_external_data_only_inside_its_own_folder()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "model")).FullName;
        var path = Path.Combine(folder, "m.onnx");
        File.WriteAllBytes(path, WithExternalWeight(AddModel(1), "../../../../../../tmp/x").ToByteArray());
        Assert.Contains("outside the model's folder", Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(path)).Message);
        File.WriteAllBytes(path, WithExternalWeight(AddModel(1), "/etc/hostname").ToByteArray());
        Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(path));
        File.WriteAllBytes(path, WithExternalWeight(AddModel(1), "weights.bin").ToByteArray());
        Assert.Single(OnnxModelFile.Load(path).Graph.Initializer);
        Assert.Throws<InvalidDataException>(() => OnnxModelFile.Load(File.ReadAllBytes(path)));   // bytes have no folder
    }

    private static byte[] EntryBytes(string zip, string name)
    {
        using var z = ZipFile.OpenRead(zip);
        using var s = z.GetEntry(name)!.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    // The .zip with entry `name` holding `bytes` (written anew, so with a CRC-32 that matches them).
    private static byte[] WithEntry(byte[] zip, string name, byte[] bytes)
    {
        var m = new MemoryStream();
        m.Write(zip);
        using (var z = new ZipArchive(m, ZipArchiveMode.Update, leaveOpen: true))
        {
            z.GetEntry(name)?.Delete();
            using var s = z.CreateEntry(name).Open();
            s.Write(bytes);
        }
        return m.ToArray();
    }

    private static void WriteEntry(string zip, string name, byte[] bytes) => File.WriteAllBytes(zip, WithEntry(File.ReadAllBytes(zip), name, bytes));

    [Fact]
    public void A_sealed_zip_lists_every_entry_and_refuses_any_changed_added_or_missing_one_naming_it()
    {
        var (ml, data, zip) = Saved(manifest: true);
        var original = File.ReadAllBytes(zip);
        string[] names;
        using (var z = ZipFile.OpenRead(zip)) names = z.Entries.Select(e => e.FullName).Where(n => n != XcosModelArchive.ManifestEntry).ToArray();
        Assert.Contains("Schema", names);
        Assert.Contains(names, n => n.EndsWith("Model.key", StringComparison.Ordinal));
        foreach (var name in names)
        {
            // one byte of the entry changed, the zip's CRC-32 rewritten to match: only the manifest can tell
            var bytes = EntryBytes(zip, name);
            bytes[bytes.Length / 2] ^= 0x10;
            WriteEntry(zip, name, bytes);
            var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Load(ml, zip, out _));
            Assert.StartsWith(zip, e.Message);
            Assert.Contains($"'{name}'", e.Message);
            Assert.Contains("SHA-256", e.Message);
            File.WriteAllBytes(zip, original);
        }
        WriteEntry(zip, "TransformerChain/Extra.key", [1, 2, 3]);
        Assert.Contains("'TransformerChain/Extra.key' is not in the manifest", Assert.Throws<InvalidDataException>(() => XcosModelArchive.Verify(zip)).Message);
        File.WriteAllBytes(zip, original);
        using (var z = ZipFile.Open(zip, ZipArchiveMode.Update)) z.GetEntry("Schema")!.Delete();
        Assert.Contains("'Schema' recorded in the manifest is missing", Assert.Throws<InvalidDataException>(() => XcosModelArchive.Verify(zip)).Message);
        File.WriteAllBytes(zip, original);
        var model = XcosModelArchive.Load(ml, zip, out _);
        Assert.Equal(1.5f, model.Transform(data).GetColumn<float[]>("y").Single()[0]);
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_version_1_manifest_still_loads_and_still_catches_a_swapped_network()
    {
        var (ml, data, zip) = Saved(manifest: false);
        var network = Assert.Single(XcosModelArchive.Verify(zip));
        // what this class wrote before version 2: the networks only
        WriteEntry(zip, XcosModelArchive.ManifestEntry, JsonSerializer.SerializeToUtf8Bytes(new { Version = 1, Networks = new[] { network } }));
        var model = XcosModelArchive.Load(ml, zip, out _);
        Assert.Equal(1.5f, model.Transform(data).GetColumn<float[]>("y").Single()[0]);
        (model as IDisposable)?.Dispose();
        ReplaceNetwork(zip, AddModel(0.25f));
        Assert.Contains("the network was replaced", Assert.Throws<InvalidDataException>(() => XcosModelArchive.Verify(zip)).Message);
    }

    [Fact]
    public void An_entry_whose_bytes_do_not_match_the_zips_CRC_is_refused_without_a_manifest()
    {
        var (_, _, zip) = Saved(manifest: false);
        var bytes = File.ReadAllBytes(zip);
        // ML.NET stores entries deflated; one stored entry lets a changed byte decompress to changed data
        var schema = EntryBytes(zip, "Schema");
        var m = new MemoryStream();
        m.Write(bytes);
        using (var z = new ZipArchive(m, ZipArchiveMode.Update, leaveOpen: true))
        {
            z.GetEntry("Schema")!.Delete();
            using var s = z.CreateEntry("Schema", CompressionLevel.NoCompression).Open();
            s.Write(schema);
        }
        bytes = m.ToArray();
        int at = bytes.AsSpan().IndexOf(schema);
        Assert.True(at > 0);
        bytes[at + schema.Length / 2] ^= 0x01;
        File.WriteAllBytes(zip, bytes);
        var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Verify(zip));
        Assert.Contains("entry 'Schema' is damaged", e.Message);
        Assert.Contains("CRC-32", e.Message);
    }

    // A Model.key rewritten with a matching CRC in a .zip without a manifest: what ML.NET throws (here, for a loader
    // signature it does not know) comes out naming the file, ML.NET's exception inside.
    [Fact]
    public void What_ML_NET_throws_on_a_damaged_Model_key_names_the_file()
    {
        var (ml, _, zip) = Saved(manifest: false);
        var key = EntryBytes(zip, "TransformerChain/Model.key");
        Assert.True(key.Skip(0x50).Take(8).All(b => b is >= 0x20 and < 0x7F), "no loader signature text at 0x50");
        for (int i = 0; i < 8; i++) key[0x50 + i] = (byte)'Q';
        WriteEntry(zip, "TransformerChain/Model.key", key);
        XcosModelArchive.Verify(zip);   // nothing the archive check can see
        var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Load(ml, zip, out _));
        Assert.StartsWith($"{zip}: ML.NET cannot load the model (", e.Message);
        Assert.NotNull(e.InnerException);
    }

    // The zip fuzz's case that stopped the test host (#23): one bit of the Schema entry of a .zip without a manifest
    // (column X's VBuffer codec says 4,194,305 dimensions instead of 1) makes ML.NET's reader loop forever at the end of
    // the codec's 16 bytes (at 100 % CPU, inside Model.Load). The archive check reads the Schema first and refuses it.
    [Fact]
    public void A_schema_that_would_hang_ML_NETs_reader_is_refused_before_ML_NET_reads_it()
    {
        var (ml, _, zip) = Saved(manifest: false);
        var schema = EntryBytes(zip, "Schema");
        Assert.True(schema.Length == 309 && schema[277] == 0x00, $"the Schema of this model changed ({schema.Length} bytes): find the byte again");
        schema[277] ^= 0x40;
        WriteEntry(zip, "Schema", schema);   // a CRC-32 that matches: only the reading can tell
        var e = Assert.Throws<InvalidDataException>(() => XcosModelArchive.Verify(zip));
        Assert.StartsWith($"{zip}: entry 'Schema' (the input schema) is unreadable", e.Message);
        Assert.Throws<InvalidDataException>(() => XcosModelArchive.Load(ml, zip, out _));
    }

    /// <summary>
    /// Seeded fuzz of the project's pair scorer saved as a .zip, with and without the manifest: bit flips, cuts and inserts
    /// of the whole file or of one entry's bytes (the zip's CRC made to match, as an attacker would), and, one case in
    /// eight, the inner network replaced by one whose weights are an external file outside the model's folder. The
    /// models load and score in a child process (DeployCheck --each), so that one that kills or hangs the process is a
    /// failure naming its case, not a dead test host. Each either scores as saved or is refused with a clear exception;
    /// only an unsealed model whose entry was rewritten may score otherwise (nothing records what it held); the
    /// external file is never read (it holds other weights: a model that read it would score otherwise).
    /// </summary>
    [Fact]
    public void Fuzzed_zips_score_as_saved_or_are_refused_and_never_kill_or_hang_the_process()
    {
        const int Seed = 23_000, Cases = 400;
        var ml = new MLContext(seed: 1);
        var rng = new Random(5);
        float[] Grid() => Enumerable.Range(0, TinyXcos.GridSize).Select(_ => (float)rng.NextDouble() - 0.3f).ToArray();
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 6).Select(_ => new GridPair { Grid1 = Grid(), Grid2 = Grid() }).ToArray());
        var model = ml.Transforms.ScoreXcosPairs(new XcosPairScorerOptions { ModelBytes = TinyXcos.PairHeadModel, Threshold = 0.5f }).Fit(data);
        string plain = Path.Combine(_dir, "plain.zip"), sealedZip = Path.Combine(_dir, "sealed.zip"), rows = Path.Combine(_dir, "rows.idv");
        ml.Model.Save(model, data.Schema, plain);
        XcosModelArchive.Save(ml, model, data.Schema, sealedZip);
        (model as IDisposable)?.Dispose();
        using (var s = File.Create(rows)) ml.Data.SaveAsBinary(data, s);

        string[] entries;
        using (var z = ZipFile.OpenRead(sealedZip)) entries = z.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal).ToArray();
        var network = Assert.Single(entries, n => n.EndsWith("/OnnxModel", StringComparison.Ordinal));
        var (outside, external) = OutsideWeights(EntryBytes(plain, network));

        var cases = Directory.CreateDirectory(Path.Combine(_dir, "cases")).FullName;
        var what = new Dictionary<string, Case>(StringComparer.Ordinal);
        // the untouched models first: their scores are the ones every accepted case must give
        File.Copy(plain, Path.Combine(cases, "a-plain.zip"));
        File.Copy(sealedZip, Path.Combine(cases, "a-sealed.zip"));
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Cases; i++)
        {
            var r = new Random(Seed + i);
            bool isSealed = r.Next(2) == 0;
            var bytes = File.ReadAllBytes(isSealed ? sealedZip : plain);
            Case c;
            int kind = r.Next(8);
            if (kind == 0)
            {
                var location = external[r.Next(external.Length)];
                bytes = WithEntry(bytes, network, outside(location));
                c = new(isSealed, Damage.External, network, $"network with external weights at {location}");
            }
            else if (kind <= 4)
            {
                var entry = entries[r.Next(entries.Length)];
                if (!isSealed && entry == XcosModelArchive.ManifestEntry) entry = "Schema";
                bytes = WithEntry(bytes, entry, Fuzz.Mutate(EntryBytes(isSealed ? sealedZip : plain, entry), r));
                c = new(isSealed, Damage.Entry, entry, $"entry {entry} mutated, CRC-32 rewritten");
            }
            else
            {
                bytes = Fuzz.Mutate(bytes, r);
                c = new(isSealed, Damage.File, null, "the .zip's bytes mutated");
            }
            var name = $"c{i:D4}.zip";
            File.WriteAllBytes(Path.Combine(cases, name), bytes);
            what[name] = c;
        }
        output.WriteLine($"{Cases} cases written in {clock.Elapsed.TotalSeconds:F1} s");

        var results = RunChild(rows, cases, seconds: 12, what);
        var untouched = results["a-plain.zip"];
        Assert.True(untouched.TryGetProperty("scores", out var saved), $"the untouched model did not score: {untouched}");
        var baseline = saved.GetRawText();
        Assert.Contains("\"Xcos\"", baseline);
        Assert.Equal(baseline, results["a-sealed.zip"].GetProperty("scores").GetRawText());
        var failures = new List<string>();
        var tally = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, result) in results.Where(kv => what.ContainsKey(kv.Key)))
        {
            var c = what[name];
            var path = Path.Combine(cases, name);
            string outcome;
            if (result.TryGetProperty("scores", out var scores))
            {
                bool same = scores.GetRawText() == baseline;
                outcome = same ? "scored as saved" : "scored otherwise";
                // only an unsealed model whose entry was rewritten with a matching CRC may score otherwise
                if (!same && (c.Sealed || c.Damage != Damage.Entry)) failures.Add($"{name} ({c.Describe}): loaded and scored otherwise");
                if (c.Damage == Damage.External) failures.Add($"{name} ({c.Describe}): loaded");
            }
            else
            {
                string type = result.GetProperty("error").GetString()!, message = result.GetProperty("message").GetString()!;
                var causes = result.GetProperty("causes").EnumerateArray().Select(x => x.GetString()!).ToList();
                bool loading = result.GetProperty("phase").GetString() == "load";
                outcome = loading ? "refused" : "failed to score";
                if (loading)
                {
                    // every refusal is the archive check's or Load's, naming the file; a sealed model's names the damaged entry too
                    if (type != typeof(InvalidDataException).FullName || !message.StartsWith(path, StringComparison.Ordinal))
                        failures.Add($"{name} ({c.Describe}): {type}: {message} <- {string.Join(" <- ", causes)}");
                    else if (c.Sealed && c.Entry is { } entry && entry != XcosModelArchive.ManifestEntry && !message.Contains($"'{entry}'", StringComparison.Ordinal))
                        failures.Add($"{name} ({c.Describe}): the refusal does not name the entry: {message}");
                    else if (c.Damage == Damage.External && !c.Sealed && !message.Contains("external", StringComparison.Ordinal)) failures.Add($"{name} ({c.Describe}): {message}");
                    outcome += message.Contains("ML.NET cannot load", StringComparison.Ordinal) ? " by ML.NET" : " by the archive check";
                }
                // a model that loaded scores as saved unless an unsealed entry was rewritten (then ML.NET may find, when it
                // scores, that the stages no longer fit together: an exception that says so, not a crash of the runtime's)
                else if (c.Sealed || c.Damage != Damage.Entry || causes.Prepend(type).Any(x => Bugs.Any(b => x.StartsWith(b, StringComparison.Ordinal))))
                    failures.Add($"{name} ({c.Describe}): loaded, then {type}: {message} <- {string.Join(" <- ", causes)}");
            }
            var key = $"{(c.Sealed ? "sealed" : "plain")} {c.Damage}: {outcome}";
            tally[key] = tally.GetValueOrDefault(key) + 1;
        }
        output.WriteLine($"{results.Count - 2} cases loaded in the child; " + string.Join("; ", tally.Select(kv => $"{kv.Value} x {kv.Key}")));
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.True(results.Count - 2 >= 20, $"only {results.Count - 2} cases ran");
        Assert.Contains(tally.Keys, k => k.EndsWith("scored as saved", StringComparison.Ordinal));
        Assert.Contains(tally.Keys, k => k.Contains("refused", StringComparison.Ordinal));
    }

    // Exceptions that say the code went wrong, not the model: never an answer to a damaged model.
    private static readonly string[] Bugs = ["System.NullReferenceException", "System.IndexOutOfRangeException", "System.AccessViolationException",
        "System.InvalidCastException", "System.DivideByZeroException", "System.OverflowException", "System.OutOfMemoryException"];

    private enum Damage { File, Entry, External }

    private sealed record Case(bool Sealed, Damage Damage, string? Entry, string What)
    {
        public string Describe => $"{(Sealed ? "sealed" : "unsealed")}, {What}";
    }

    private sealed class GridPair
    {
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid1 { get; set; } = [];
        [VectorType(TinyXcos.GridChannels, 7, 7)] public float[] Grid2 { get; set; } = [];
    }

    // The stored network with its largest initializer moved to an external file outside the model's folder, holding
    // other values; the locations ONNX Runtime would resolve there from wherever it loads the network.
    private (Func<string, byte[]> Network, string[] Locations) OutsideWeights(byte[] stored)
    {
        var outside = Path.Combine(_dir, "outside.bin");
        var m = ModelProto.Parser.ParseFrom(stored.AsSpan(4).ToArray());
        var t = m.Graph.Initializer.OrderByDescending(x => x.RawData.Length + 4 * x.FloatData.Count).First();
        var values = t.RawData.Length > 0 ? t.RawData.ToByteArray() : t.FloatData.SelectMany(BitConverter.GetBytes).ToArray();
        File.WriteAllBytes(outside, values.Select(b => (byte)(b ^ 0x40)).ToArray());
        var relative = string.Concat(Enumerable.Repeat("../", 16)) + outside.TrimStart('/');
        return (location =>
        {
            var x = m.Clone();
            WithExternalWeight(x, location, x.Graph.Initializer.Single(i => i.Name == t.Name));
            var onnx = x.ToByteArray();
            return [.. BitConverter.GetBytes(onnx.Length), .. onnx];
        }, [relative, "sub/" + relative, outside]);
    }

    // Runs DeployCheck --each on the case folder; its result line for each model it started. A model that kills the
    // process, or after which no line comes for a minute, fails the test naming the case.
    private Dictionary<string, JsonElement> RunChild(string rows, string folder, double seconds, Dictionary<string, Case> what)
    {
        var psi = DeployCheckProcess.StartInfo("--each", rows, folder, seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // ML.NET writes each ONNX stage to a temporary file that a load failing at a later stage never deletes: keep them here
        psi.Environment["TMPDIR"] = Directory.CreateDirectory(Path.Combine(_dir, "tmp")).FullName;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var results = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        string? started = null;
        var clock = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                var next = p.StandardOutput.ReadLineAsync();
                if (!next.Wait(TimeSpan.FromSeconds(60)))
                    Assert.Fail($"no answer in 60 s from the child while it loaded {Describe(started, what)}: it hangs");
                var line = next.Result;
                if (line is null) break;
                if (line.StartsWith("start ", StringComparison.Ordinal)) { started = line[6..]; continue; }
                using var doc = JsonDocument.Parse(line);
                results[doc.RootElement.GetProperty("model").GetString()!] = doc.RootElement.Clone();
                started = null;
            }
            p.WaitForExit();
            if (started is not null || p.ExitCode != 0)
                Assert.Fail($"the child exited with code {p.ExitCode} while it loaded {Describe(started, what)}: {stderr.Result}");
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        output.WriteLine($"child: {results.Count} models in {clock.Elapsed.TotalSeconds:F1} s");
        return results;
    }

    private static string Describe(string? name, Dictionary<string, Case> what) =>
        name is null ? "nothing" : what.TryGetValue(name, out var c) ? $"{name} ({c.Describe})" : name;
}
