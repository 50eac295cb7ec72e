using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Xcos.TestUtilities;

/// <summary>An array read from a NumPy .npy file (format 1.0/2.0/3.0, little-endian, C order): the PyTorch reference outputs under tests/fixtures.</summary>
public sealed class NpyArray
{
    /// <summary>Wraps raw element bytes; <paramref name="dtype"/> is a NumPy type string such as "f4" (see <see cref="DType"/>).</summary>
    public NpyArray(string dtype, int[] shape, byte[] data) { DType = dtype; Shape = shape; Data = data; }

    /// <summary>NumPy type string without the byte-order mark, e.g. "f4", "i8", "u1", "b1", "f8".</summary>
    public string DType { get; }
    /// <summary>Dimensions in C (row-major) order; empty for a 0-d array.</summary>
    public int[] Shape { get; }
    /// <summary>Raw little-endian element bytes.</summary>
    public byte[] Data { get; }
    /// <summary>Element count: the product of <see cref="Shape"/> (1 for a 0-d array).</summary>
    public long Length => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The elements as float32, converting from f8 (rounded) and u1.</summary>
    /// <exception cref="InvalidDataException">Any other dtype.</exception>
    public float[] AsFloat32() => DType switch
    {
        "f4" => Cast<float>(),
        "f8" => Cast<double>().Select(v => (float)v).ToArray(),
        "u1" => Data.Select(v => (float)v).ToArray(),
        _ => throw new InvalidDataException($"npy dtype '{DType}' cannot be read as float32"),
    };

    /// <summary>The elements as float64, widening f4.</summary>
    /// <exception cref="InvalidDataException">Any other dtype.</exception>
    public double[] AsFloat64() => DType switch
    {
        "f8" => Cast<double>(),
        "f4" => Cast<float>().Select(v => (double)v).ToArray(),
        _ => throw new InvalidDataException($"npy dtype '{DType}' cannot be read as float64"),
    };

    /// <summary>The elements as int64, widening i4.</summary>
    /// <exception cref="InvalidDataException">Any other dtype.</exception>
    public long[] AsInt64() => DType switch
    {
        "i8" => Cast<long>(),
        "i4" => Cast<int>().Select(v => (long)v).ToArray(),
        _ => throw new InvalidDataException($"npy dtype '{DType}' cannot be read as int64"),
    };

    /// <summary>The elements of a b1 array; any non-zero byte is true.</summary>
    /// <exception cref="InvalidDataException">Any other dtype.</exception>
    public bool[] AsBool() => DType == "b1"
        ? Data.Select(v => v != 0).ToArray()
        : throw new InvalidDataException($"npy dtype '{DType}' cannot be read as bool");

    private T[] Cast<T>() where T : struct =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(Data).ToArray();
}

/// <summary>Minimal .npy reader for parity fixtures and cached arrays.</summary>
public static class Npy
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Reads the .npy file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">Bad magic, a malformed header, big-endian or Fortran-order data, or a truncated file; the message starts with the path.</exception>
    public static NpyArray Read(string path)
    {
        using var s = File.OpenRead(path);
        try { return Read(s); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        catch (EndOfStreamException e) { throw new InvalidDataException($"{path}: file is truncated", e); }
    }

    /// <summary>Reads one .npy array from the current position of <paramref name="s"/>.</summary>
    /// <exception cref="InvalidDataException">Bad magic, a malformed header, big-endian or Fortran-order data, or fewer data bytes than the shape needs.</exception>
    /// <exception cref="EndOfStreamException">The stream ends inside the header or the data.</exception>
    public static NpyArray Read(Stream s)
    {
        var r = new BinaryReader(s);
        if (!r.ReadBytes(6).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException("not a .npy file (bad magic)");
        int major = r.ReadByte(); r.ReadByte();
        int headerLen = major == 1 ? r.ReadUInt16() : (int)r.ReadUInt32();
        string header = Encoding.Latin1.GetString(r.ReadBytes(headerLen));
        var descr = Regex.Match(header, @"'descr':\s*'([<>|=])(\w+)'");
        var order = Regex.Match(header, @"'fortran_order':\s*(True|False)");
        var shape = Regex.Match(header, @"'shape':\s*\(([^)]*)\)");
        if (!descr.Success || !order.Success || !shape.Success) throw new InvalidDataException($"bad npy header: {header.Trim()}");
        if (descr.Groups[1].Value == ">") throw new InvalidDataException("big-endian npy arrays are not supported");
        if (order.Groups[1].Value == "True") throw new InvalidDataException("Fortran-order npy arrays are not supported");
        int[] dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(int.Parse).ToArray();
        string dtype = descr.Groups[2].Value;
        int itemSize = int.Parse(dtype[1..], CultureInfo.InvariantCulture);
        long count = dims.Aggregate(1L, (a, b) => a * b);
        byte[] data = r.ReadBytes(checked((int)(count * itemSize)));
        if (data.Length != count * itemSize) throw new InvalidDataException($"file is truncated: expected {count * itemSize} data bytes, found {data.Length}");
        return new NpyArray(dtype, dims, data);
    }
}
