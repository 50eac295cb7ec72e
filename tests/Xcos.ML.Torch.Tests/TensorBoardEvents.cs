using System.Buffers.Binary;
using System.Text;

namespace Xcos.ML.Torch.Tests;

/// <summary>One summary value of an event: a scalar or an image.</summary>
internal sealed record TensorBoardValue(long Step, double WallTime, string Tag, float? Scalar, byte[]? Image, int ImageWidth, int ImageHeight);

/// <summary>
/// Reads a TensorBoard event file independently of the writer: TFRecord framing (uint64 length, masked CRC-32C of
/// the length bytes, payload, masked CRC-32C of the payload; both CRCs are checked) and the Event protobuf fields
/// wall_time (1), step (2), file_version (3), summary (5) -> value (1) -> tag (1), simple_value (2), image (4).
/// </summary>
internal static class TensorBoardEvents
{
    public static (string? FileVersion, List<TensorBoardValue> Values) Read(string path)
    {
        var data = File.ReadAllBytes(path);
        string? version = null;
        var values = new List<TensorBoardValue>();
        int pos = 0;
        while (pos < data.Length)
        {
            Assert.True(pos + 12 <= data.Length, $"truncated record header at {pos}");
            ulong len = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(pos));
            Assert.Equal(MaskedCrc(data.AsSpan(pos, 8)), BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(pos + 8)));
            var payload = data.AsSpan(pos + 12, (int)len);
            Assert.Equal(MaskedCrc(payload), BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(pos + 12 + (int)len)));
            pos += 12 + (int)len + 4;

            long step = 0; double wall = 0; var summaries = new List<byte[]>();
            foreach (var (field, wire, v, bytes) in Fields(payload.ToArray()))
            {
                switch (field)
                {
                    case 1 when wire == 1: wall = BitConverter.Int64BitsToDouble((long)v); break;
                    case 2 when wire == 0: step = (long)v; break;
                    case 3 when wire == 2: version = Encoding.UTF8.GetString(bytes!); break;
                    case 5 when wire == 2: summaries.Add(bytes!); break;
                }
            }
            foreach (var s in summaries)
                foreach (var (f, w, _, valueBytes) in Fields(s))
                {
                    if (f != 1 || w != 2) continue;
                    string tag = ""; float? scalar = null; byte[]? image = null; int width = 0, height = 0;
                    foreach (var (vf, vw, vv, vb) in Fields(valueBytes!))
                    {
                        if (vf == 1 && vw == 2) tag = Encoding.UTF8.GetString(vb!);
                        else if (vf == 2 && vw == 5) scalar = BitConverter.Int32BitsToSingle((int)vv);
                        else if (vf == 4 && vw == 2)
                            foreach (var (imf, imw, imv, imb) in Fields(vb!))
                            {
                                if (imf == 1 && imw == 0) height = (int)imv;
                                else if (imf == 2 && imw == 0) width = (int)imv;
                                else if (imf == 4 && imw == 2) image = imb;
                            }
                    }
                    values.Add(new TensorBoardValue(step, wall, tag, scalar, image, width, height));
                }
        }
        return (version, values);
    }

    private static IEnumerable<(int Field, int Wire, ulong Value, byte[]? Bytes)> Fields(byte[] m)
    {
        int p = 0;
        var result = new List<(int, int, ulong, byte[]?)>();
        while (p < m.Length)
        {
            ulong key = Varint(m, ref p);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: result.Add((field, wire, Varint(m, ref p), null)); break;
                case 1: result.Add((field, wire, BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(p)), null)); p += 8; break;
                case 5: result.Add((field, wire, BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(p)), null)); p += 4; break;
                case 2:
                    int n = (int)Varint(m, ref p);
                    result.Add((field, wire, 0, m.AsSpan(p, n).ToArray())); p += n; break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
        }
        return result;
    }

    private static ulong Varint(byte[] m, ref int p)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = m[p++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
    }

    // CRC-32C written out bit by bit (no table), masked as TFRecord does
    private static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (uint)-(int)(crc & 1));
        }
        crc = ~crc;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}
