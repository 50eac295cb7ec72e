using System.Buffers.Binary;
using System.Text;

namespace Xcos.ML.Torch.Tests;

/// <summary>A class or function reference in a pickle (GLOBAL opcode).</summary>
internal sealed record PyGlobal(string Module, string Name);

/// <summary>callable(*args) (REDUCE), then SETITEMS of <see cref="DictItems"/> and BUILD of <see cref="State"/>: how
/// an OrderedDict (with its _metadata attribute) or a numpy dtype is pickled.</summary>
internal sealed record PyReduce(object Callable, object?[] Args, IReadOnlyList<KeyValuePair<object, object?>>? DictItems = null, object? State = null);

/// <summary>cls.__new__(cls, *args), then SETITEMS of <see cref="DictItems"/>, then BUILD of <see cref="State"/>: how
/// protocol 2 pickles an instance of a dict subclass such as attrdict.AttrDict.</summary>
internal sealed record PyNewObj(PyGlobal Class, object?[] Args, IReadOnlyList<KeyValuePair<object, object?>> DictItems, object? State);

/// <summary>A persistent id (BINPERSID).</summary>
internal sealed record PyPersistentId(object?[] Id);

/// <summary>An insertion-ordered Python dict.</summary>
internal sealed class PyDict : List<KeyValuePair<object, object?>>
{
    public void Add(object key, object? value) => Add(new KeyValuePair<object, object?>(key, value));
}

/// <summary>
/// Writes protocol-2 pickles (torch.save's protocol) from a tree of C# values: null, bool, int/long, double, string,
/// byte[] (as Python 3 does at protocol 2: _codecs.encode(text, 'latin1')), object?[] (tuple), List&lt;object?&gt;
/// (list), <see cref="PyDict"/> and the Py* records. Test-side only: it makes files the way Python's pickler does.
/// </summary>
internal static class PickleWriter
{
    public static byte[] Dumps(object? value)
    {
        using var ms = new MemoryStream();
        ms.Write([0x80, 2]);
        Write(ms, value);
        ms.WriteByte((byte)'.');
        return ms.ToArray();
    }

    private static void Write(Stream s, object? v)
    {
        switch (v)
        {
            case null: s.WriteByte((byte)'N'); break;
            case bool b: s.WriteByte(b ? (byte)0x88 : (byte)0x89); break;
            case int i: WriteLong(s, i); break;
            case long l: WriteLong(s, l); break;
            case double d:
            {
                Span<byte> buf = stackalloc byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(buf, d);
                s.WriteByte((byte)'G'); s.Write(buf);
                break;
            }
            case string str:
            {
                var bytes = Encoding.UTF8.GetBytes(str);
                s.WriteByte((byte)'X'); WriteInt32(s, bytes.Length); s.Write(bytes);
                break;
            }
            case byte[] raw:
                Write(s, new PyReduce(new PyGlobal("_codecs", "encode"), [Encoding.Latin1.GetString(raw), "latin1"]));
                break;
            case object?[] tuple:
                s.WriteByte((byte)'(');
                foreach (var x in tuple) Write(s, x);
                s.WriteByte((byte)'t');
                break;
            case List<object?> list:
                s.WriteByte((byte)']');
                if (list.Count == 0) break;
                s.WriteByte((byte)'(');
                foreach (var x in list) Write(s, x);
                s.WriteByte((byte)'e');
                break;
            case PyDict dict:
                s.WriteByte((byte)'}');
                WriteItems(s, dict);
                break;
            case PyGlobal g:
                s.Write(Encoding.ASCII.GetBytes($"c{g.Module}\n{g.Name}\n"));
                break;
            case PyReduce r:
                Write(s, r.Callable); Write(s, r.Args); s.WriteByte((byte)'R');
                if (r.DictItems is not null) WriteItems(s, r.DictItems);
                if (r.State is not null) { Write(s, r.State); s.WriteByte((byte)'b'); }
                break;
            case PyNewObj o:
                Write(s, o.Class); Write(s, o.Args); s.WriteByte(0x81);
                WriteItems(s, o.DictItems);
                if (o.State is not null) { Write(s, o.State); s.WriteByte((byte)'b'); }
                break;
            case PyPersistentId p:
                Write(s, p.Id); s.WriteByte((byte)'Q');
                break;
            default: throw new ArgumentException($"cannot pickle {v.GetType().Name}");
        }
    }

    private static void WriteItems(Stream s, IReadOnlyList<KeyValuePair<object, object?>> items)
    {
        if (items.Count == 0) return;
        s.WriteByte((byte)'(');
        foreach (var (k, x) in items) { Write(s, k); Write(s, x); }
        s.WriteByte((byte)'u');
    }

    private static void WriteLong(Stream s, long v)
    {
        if (v is >= int.MinValue and <= int.MaxValue) { s.WriteByte((byte)'J'); WriteInt32(s, (int)v); return; }
        Span<byte> buf = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(buf, v);
        s.WriteByte(0x8a); s.WriteByte(8); s.Write(buf);
    }

    private static void WriteInt32(Stream s, int v)
    {
        Span<byte> buf = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(buf, v);
        s.Write(buf);
    }
}
