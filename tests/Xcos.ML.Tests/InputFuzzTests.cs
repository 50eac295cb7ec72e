using System.Buffers.Binary;
using SixLabors.ImageSharp.Formats.Png;
using Xcos.ML.Data;
using Xcos.ML.Images;
using Xunit;
using Xunit.Abstractions;

namespace Xcos.ML.Tests;

/// <summary>
/// Bounded fuzzing of the image and .bin readers: seeded mutations of a PNG, a JPEG photo and an InsightFace .bin must
/// each end in a valid result or an <see cref="InvalidDataException"/> naming the input: no other exception, no hang.
/// Each run stops at its case count or its time cap, whichever comes first (the count it reached is printed).
/// </summary>
public sealed class InputFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(40);
    private const string Name = "fuzzed-input";
    // a mutated header may claim any size; a small budget keeps every case cheap without skipping the size check
    private static readonly ImageLoadOptions Budget = new() { MaxPixels = 1_000_000 };

    private void Report(string what, Fuzz.Summary s)
    {
        output.WriteLine($"{what}: {s.Cases} cases in {s.Elapsed.TotalSeconds:F1} s, {s.Accepted} decoded, {s.Refused} refused, slowest case {s.SlowestCase} {s.SlowestTime.TotalSeconds:F2} s ({s.TopReasons()})");
        Assert.True(s.Failures.Count == 0, $"{what}: " + string.Join("\n", s.Failures));
        Assert.True(s.Refused > 0 && s.Accepted > 0, $"{what}: the mutations reached only one outcome");
    }

    private static void LoadImage(byte[] bytes)
    {
        RgbImage image;
        try { image = ImageIO.Load(bytes, Budget, Name); }
        catch (InvalidDataException e) when (!e.Message.Contains(Name, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("refusal without the input's name: " + e.Message);
        }
        if (image.Width <= 0 || image.Height <= 0 || image.Pixels.Length != image.Width * image.Height * 3)
            throw new InvalidOperationException($"inconsistent image {image.Width}x{image.Height} with {image.Pixels.Length} bytes");
    }

    [Fact]
    public void MutatedPngs()
    {
        var png = ImageInputMatrixTests.Picture(new PngEncoder());
        Report("png", Fuzz.Run(png, 1000, 1000, Cap / 2, LoadImage, typeof(InvalidDataException)));
        // with every chunk CRC repaired, mutations get past the CRC check into the decoder and the truncation check
        Report("png, CRCs repaired", Fuzz.Run(png, 5000, 1000, Cap / 2, b => LoadImage(RepairCrcs(b)), typeof(InvalidDataException)));
    }

    [Fact]
    public void MutatedJpegPhotos()
    {
        var jpg = File.ReadAllBytes(Fixtures.Path("pairs_image_0.jpg"));
        Report("jpeg", Fuzz.Run(jpg, 2000, 2000, Cap, LoadImage, typeof(InvalidDataException)));
    }

    [Fact]
    public void MutatedInsightFaceBins()
    {
        var bin = File.ReadAllBytes(Fixtures.Path("pairs_protocol2.bin"));
        Report("bin", Fuzz.Run(bin, 3000, 2000, Cap, bytes =>
        {
            var (images, same) = InsightFaceBin.Read(new MemoryStream(bytes), Name);
            if (images.Count != 2 * same.Length) throw new InvalidOperationException($"{images.Count} images for {same.Length} pairs");
            // a .bin that parses hands its images to the decoder: they too end in an image or a named refusal
            foreach (var image in images.Take(2)) LoadImage(image);
        }, typeof(InvalidDataException)));
    }

    // Recomputes each chunk's CRC where the chunk structure still allows it.
    private static byte[] RepairCrcs(byte[] png)
    {
        var b = (byte[])png.Clone();
        int pos = 8;
        while (pos + 12 <= b.Length)
        {
            long len = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos));
            if (pos + 12 + len > b.Length) break;
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(pos + 8 + (int)len), Crc32(b.AsSpan(pos + 4, 4 + (int)len)));
            pos += 12 + (int)len;
        }
        return b;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var x in data)
        {
            c ^= x;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }
}
