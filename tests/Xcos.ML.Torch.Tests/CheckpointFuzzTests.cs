using System.IO.Compression;
using TorchSharp;
using Xcos.ML.Torch.Checkpoints;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Xcos.ML.Torch.Tests;

/// <summary>
/// Bounded fuzzing of the checkpoint reader: seeded mutations of a small torch.save file, both of the raw file and of
/// its pickle inside a re-written (valid) zip, must each end in a state dict whose tensors can be read, or a
/// <see cref="CheckpointException"/> naming the file: no other exception, no native crash, no hang.
/// </summary>
public sealed class CheckpointFuzzTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(40);
    private readonly string _dir = Directory.CreateTempSubdirectory("xcos-ckpt-fuzz").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private byte[] Seed()
    {
        var path = Path.Combine(_dir, "seed.pth");
        using (var scope = NewDisposeScope())
        {
            var sd = new Dictionary<string, Tensor>
            {
                ["backbone.conv.weight"] = arange(24, dtype: ScalarType.Float32).reshape(2, 3, 2, 2),
                ["backbone.bn.running_mean"] = ones(3),
                ["backbone.bn.num_batches_tracked"] = tensor(7L),
            };
            XcosCheckpoint.SaveStateDict(sd, path);
        }
        return File.ReadAllBytes(path);
    }

    private void Read(byte[] bytes)
    {
        var path = Path.Combine(_dir, "case.pth");
        File.WriteAllBytes(path, bytes);
        Dictionary<string, Tensor> sd;
        try { sd = XcosCheckpoint.ReadStateDict(path); }
        catch (CheckpointException e) when (!e.Message.Contains(path, StringComparison.Ordinal)
                                             || e.Message.Contains("IObjectConstructor", StringComparison.Ordinal) || e.Message.Contains("ArrayList", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("refusal without the file's name, or in the unpickler's internal terms: " + e.Message);
        }
        try
        {
            // every tensor that came back must be readable to its last element
            foreach (var t in sd.Values) { using var s = t.to(ScalarType.Float64).sum(); s.item<double>(); }
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    // The archive's data.pkl mutated, the zip written again so that its CRCs hold and the unpickler sees the bytes.
    private static byte[] WithPickle(byte[] archive, byte[] pickle)
    {
        using var input = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        using var ms = new MemoryStream();
        using (var output = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var e in input.Entries)
            {
                using var src = e.Open();
                using var buffer = new MemoryStream();
                src.CopyTo(buffer);
                var bytes = e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) ? pickle : buffer.ToArray();
                using var dst = output.CreateEntry(e.FullName, CompressionLevel.NoCompression).Open();
                dst.Write(bytes);
            }
        return ms.ToArray();
    }

    private void Report(string what, Fuzz.Summary s)
    {
        output.WriteLine($"{what}: {s.Cases} cases in {s.Elapsed.TotalSeconds:F1} s, {s.Accepted} read, {s.Refused} refused, slowest case {s.SlowestCase} {s.SlowestTime.TotalSeconds:F2} s ({s.TopReasons()})");
        Assert.True(s.Failures.Count == 0, $"{what}: " + string.Join("\n", s.Failures));
        Assert.True(s.Refused > 0, $"{what}: no mutation was refused");
    }

    [Fact]
    public void MutatedCheckpointFiles()
    {
        TorchRuntime.Configure(1);
        var seed = Seed();
        Read(seed); // the seed itself reads
        Report("pth file", Fuzz.Run(seed, 7000, 1000, Cap / 2, Read, typeof(CheckpointException)));
        byte[] pickle;
        using (var zip = new ZipArchive(new MemoryStream(seed)))
        using (var s = zip.Entries.Single(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)).Open())
        using (var ms = new MemoryStream()) { s.CopyTo(ms); pickle = ms.ToArray(); }
        Report("pth pickle", Fuzz.Run(pickle, 9000, 1000, Cap / 2, p => Read(WithPickle(seed, p)), typeof(CheckpointException)));
    }
}
