using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Xcos.ML.Torch.Training;

/// <summary>
/// Writes a TensorBoard event file (<c>events.out.tfevents.*</c>): TFRecord framing (uint64 length, masked CRC-32C of
/// the length, the payload, masked CRC-32C of the payload) around <c>tensorflow.Event</c> protobuf messages holding
/// scalar and PNG image summaries. Wall times are seconds since the Unix epoch, as TensorBoard expects. Each record is
/// flushed when written, so TensorBoard can follow a running training.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    private readonly FileStream _file;

    /// <summary>Creates <c>events.out.tfevents.&lt;seconds&gt;.&lt;host&gt;.&lt;pid&gt;</c> in <paramref name="logDir"/> (created when missing).</summary>
    public TensorBoardWriter(string logDir)
    {
        Directory.CreateDirectory(logDir);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Path = System.IO.Path.Combine(logDir, $"events.out.tfevents.{now}.{Environment.MachineName}.{Environment.ProcessId}");
        _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        // first record: the file version (Event field 3)
        using var e = new ProtoBuffer();
        e.Double(1, WallTime());
        e.String(3, "brain.Event:2");
        WriteRecord(e.ToArray());
    }

    /// <summary>Path of the events.out.tfevents.* file being written, inside the log folder.</summary>
    public string Path { get; }

    /// <summary>Adds a scalar (TensorBoard's Scalars tab).</summary>
    public void AddScalar(string tag, double value, long step)
    {
        using var v = new ProtoBuffer();
        v.String(1, tag);
        v.Float(2, (float)value);
        WriteSummary(v, step);
    }

    /// <summary>Adds a PNG image (TensorBoard's Images tab).</summary>
    /// <exception cref="ArgumentException">The bytes are not a PNG.</exception>
    public void AddPng(string tag, byte[] png, long step)
    {
        ArgumentNullException.ThrowIfNull(png);
        if (png.Length < 24 || png[1] != 'P' || png[2] != 'N' || png[3] != 'G') throw new ArgumentException("not a PNG image", nameof(png));
        using var image = new ProtoBuffer();
        image.Varint(1, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(20))); // height (IHDR)
        image.Varint(2, BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(16))); // width
        image.Varint(3, 3); // RGB
        image.Bytes(4, png);
        using var v = new ProtoBuffer();
        v.String(1, tag);
        v.Message(4, image);
        WriteSummary(v, step);
    }

    private void WriteSummary(ProtoBuffer value, long step)
    {
        using var summary = new ProtoBuffer();
        summary.Message(1, value);
        using var e = new ProtoBuffer();
        e.Double(1, WallTime());
        e.Varint(2, (ulong)step);
        e.Message(5, summary);
        WriteRecord(e.ToArray());
    }

    private static double WallTime() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    private void WriteRecord(byte[] payload)
    {
        Span<byte> head = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(head, (ulong)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(head[8..], MaskedCrc32C(head[..8]));
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(tail, MaskedCrc32C(payload));
        _file.Write(head);
        _file.Write(payload);
        _file.Write(tail);
        _file.Flush();
    }

    // TFRecord's masked CRC-32C: rotate right by 15 bits, add 0xa282ead8.
    private static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        uint c = Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);
        return ((c >> 15) | (c << 17)) + 0xa282ead8u;
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    /// <summary>The few protobuf wire encodings an Event needs.</summary>
    private sealed class ProtoBuffer : IDisposable
    {
        private readonly MemoryStream _ms = new();

        public void Dispose() => _ms.Dispose();

        public byte[] ToArray() => _ms.ToArray();

        private void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong v)
        {
            while (v >= 0x80) { _ms.WriteByte((byte)(v | 0x80)); v >>= 7; }
            _ms.WriteByte((byte)v);
        }

        public void Varint(int field, ulong v) { Tag(field, 0); Raw(v); }

        public void Double(int field, double v)
        {
            Tag(field, 1);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(b, v);
            _ms.Write(b);
        }

        public void Float(int field, float v)
        {
            Tag(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, v);
            _ms.Write(b);
        }

        public void Bytes(int field, ReadOnlySpan<byte> v) { Tag(field, 2); Raw((ulong)v.Length); _ms.Write(v); }

        public void String(int field, string v) => Bytes(field, Encoding.UTF8.GetBytes(v));

        public void Message(int field, ProtoBuffer m) => Bytes(field, m.ToArray());
    }
}
