using System.Buffers.Binary;
using System.IO.Compression;

namespace Xcos.ML.Images;

/// <summary>
/// Finds encoded images that end early. ImageSharp decodes a PNG without IEND or a JPEG without EOI and fills the
/// missing rows, so a half file would be scored as a face; these structural checks run before decoding.
/// </summary>
/// <remarks>
/// PNG: every chunk must fit in the file, IEND must be reached, and the IDAT zlib stream must inflate to every
/// scanline that IHDR promises (Adam7 passes included). JPEG: segments and entropy-coded scans are walked up to
/// EOI. BMP and WebP: the size their header declares must be present. Other formats are not checked.
/// </remarks>
internal static class ImageTruncation
{
    /// <summary>Returns why <paramref name="data"/> is a truncated image, or null when it is complete (or of an unchecked format).</summary>
    public static string? Find(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 8 && data[..8].SequenceEqual(PngSignature)) return Png(data);
        if (data.Length >= 2 && data[0] == 0xFF && data[1] == 0xD8) return Jpeg(data);
        if (data.Length >= 6 && data[0] == (byte)'B' && data[1] == (byte)'M') return Declared(data, BinaryPrimitives.ReadUInt32LittleEndian(data[2..6]), "BMP header");
        if (data.Length >= 12 && data[..4].SequenceEqual("RIFF"u8) && data[8..12].SequenceEqual("WEBP"u8))
            return Declared(data, BinaryPrimitives.ReadUInt32LittleEndian(data[4..8]) + 8L, "RIFF header");
        return null;
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static string? Declared(ReadOnlySpan<byte> data, long declared, string header) =>
        declared > data.Length ? $"truncated: the {header} declares {declared:N0} bytes, the file has {data.Length:N0}" : null;

    private static string? Png(ReadOnlySpan<byte> data)
    {
        int pos = 8;
        byte[]? ihdr = null;
        using var idat = new MemoryStream();
        while (true)
        {
            if (pos + 8 > data.Length) return $"truncated PNG: no IEND chunk (file ends at byte {data.Length:N0})";
            long length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            string type = System.Text.Encoding.ASCII.GetString(data.Slice(pos + 4, 4));
            if (pos + 12 + length > data.Length)
                return $"truncated PNG: chunk '{type}' at byte {pos:N0} needs {length + 12:N0} bytes, the file ends after {data.Length - pos:N0}";
            var body = data.Slice(pos + 8, (int)length);
            if (type == "IHDR" && length >= 13) ihdr = body.ToArray();
            else if (type == "IDAT") idat.Write(body);
            else if (type == "IEND") break;
            pos += 12 + (int)length;
        }
        if (ihdr is null) return null; // not a PNG the decoder accepts anyway; it says why
        long expected = ScanlineBytes(ihdr);
        if (expected <= 0) return null;
        long got = Inflated(idat, expected);
        return got < expected ? $"truncated PNG: image data holds {got:N0} of the {expected:N0} scanline bytes its header promises" : null;
    }

    // Bytes of filtered scanlines (one filter byte per row) that IHDR's size, depth, colour type and interlace imply.
    private static long ScanlineBytes(byte[] ihdr)
    {
        long width = BinaryPrimitives.ReadUInt32BigEndian(ihdr), height = BinaryPrimitives.ReadUInt32BigEndian(ihdr.AsSpan(4));
        int depth = ihdr[8];
        int channels = ihdr[9] switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        if (channels == 0 || depth == 0) return 0;
        long Rows(long w, long h) => w == 0 || h == 0 ? 0 : h * (1 + (w * channels * depth + 7) / 8);
        if (ihdr[12] != 1) return Rows(width, height);
        // Adam7: pass (x0, y0, dx, dy)
        ReadOnlySpan<int> passes = [0, 0, 8, 8, 4, 0, 8, 8, 0, 4, 4, 8, 2, 0, 4, 4, 0, 2, 2, 4, 1, 0, 2, 2, 0, 1, 1, 2];
        long total = 0;
        for (int p = 0; p < 28; p += 4)
            total += Rows((width - passes[p] + passes[p + 2] - 1) / passes[p + 2], (height - passes[p + 1] + passes[p + 3] - 1) / passes[p + 3]);
        return total;
    }

    // Inflates the IDAT stream, stopping once `expected` bytes came out; a damaged stream counts what it gave.
    private static long Inflated(MemoryStream idat, long expected)
    {
        idat.Position = 0;
        long got = 0;
        var buffer = new byte[1 << 16];
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            int n;
            while (got < expected && (n = z.Read(buffer, 0, buffer.Length)) > 0) got += n;
        }
        catch (InvalidDataException) { }
        return got;
    }

    private static string? Jpeg(ReadOnlySpan<byte> data)
    {
        int pos = 2;
        while (true)
        {
            // markers may be padded with 0xFF; bytes between segments are skipped as decoders do
            while (pos < data.Length && data[pos] != 0xFF) pos++;
            while (pos < data.Length && data[pos] == 0xFF) pos++;
            if (pos >= data.Length) return $"truncated JPEG: no EOI marker (file ends at byte {data.Length:N0})";
            byte marker = data[pos++];
            if (marker == 0xD9) return null;
            if (marker is 0x01 or >= 0xD0 and <= 0xD7) continue;
            if (pos + 2 > data.Length) return $"truncated JPEG: segment 0x{marker:X2} at byte {pos - 2:N0} has no length";
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (pos + length > data.Length)
                return $"truncated JPEG: segment 0x{marker:X2} at byte {pos - 2:N0} needs {length:N0} bytes, the file ends after {data.Length - pos:N0}";
            pos += length;
            if (marker != 0xDA) continue;
            // entropy-coded data: FF00 is a stuffed byte and FFD0-FFD7 restart markers; any other marker ends the scan
            while (true)
            {
                if (pos + 1 >= data.Length) return $"truncated JPEG: scan data ends without EOI (file ends at byte {data.Length:N0})";
                if (data[pos] == 0xFF && data[pos + 1] != 0x00 && data[pos + 1] is not (>= 0xD0 and <= 0xD7) && data[pos + 1] != 0xFF) break;
                pos++;
            }
        }
    }
}
