using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Xcos.ML.Data.Pickle;

namespace Xcos.ML.Data;

/// <summary>A pickle reader that builds only plain data: lists, tuples, byte strings, booleans, integers and
/// text, plus the single callable <c>_codecs.encode</c> with which Python 3 pickles bytes at protocol 2.
/// Anything else (another global, an object-building opcode) is refused, so a pair-set file can never run code.</summary>
/// <remarks>Values come back as <see cref="List{T}"/> of object (list), object[] (tuple), byte[] (str in Python 2,
/// bytes, bytearray), string (unicode), bool and long.
/// <para><see cref="LoadRecords(Stream, string)"/> (checkpoints) also reads None, floats, dicts
/// (<see cref="OrderedDictionary{TKey, TValue}"/>), sets (as lists) and persistent ids
/// (<see cref="PickledPersistentId"/>), and turns every other global into an inert <see cref="PickledGlobal"/> and
/// every call or instantiation of one into a <see cref="PickledObject"/>: nothing named in the file is imported,
/// constructed or executed. <c>collections.OrderedDict()</c> becomes a plain dict.</para></remarks>
internal sealed class RestrictedUnpickler
{
    /// <summary>Stands for the callable <c>_codecs.encode</c> on the stack until REDUCE applies it.</summary>
    private sealed class CodecsEncode
    {
        public static readonly CodecsEncode Instance = new();
    }

    private sealed class Mark
    {
        public static readonly Mark Instance = new();
    }

    private readonly Stream _stream;
    private readonly string _name;
    private readonly long _length;
    private long _pos;
    private long _opPos;
    private string _opName = "";
    private readonly List<object?> _stack = new();
    private readonly List<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();

    // checkpoint mode: plain data plus inert records of foreign globals (see the remarks)
    private readonly bool _records;

    private RestrictedUnpickler(Stream stream, string name, bool records)
    {
        _stream = stream;
        _name = name;
        _records = records;
        _length = stream.CanSeek ? stream.Length - stream.Position : long.MaxValue;
    }

    /// <summary>Reads one pickled value from a file.</summary>
    /// <exception cref="InvalidDataException">Truncated file, forbidden global or opcode, malformed data; the message names the file and byte offset.</exception>
    public static object? Load(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Load(fs, path);
    }

    /// <summary>Reads one pickled value from a stream; <paramref name="name"/> appears in error messages.</summary>
    public static object? Load(Stream stream, string name) => new RestrictedUnpickler(stream, name, records: false).Run();

    /// <summary>Reads one pickled value in checkpoint mode: foreign globals become inert records (see the remarks).</summary>
    /// <exception cref="InvalidDataException">Truncated or malformed pickle; the message names the stream and byte offset.</exception>
    public static object? LoadRecords(Stream stream, string name) => new RestrictedUnpickler(stream, name, records: true).Run();

    private object? Run()
    {
        while (true)
        {
            _opPos = _pos;
            int op = ReadByteOrEnd();
            if (op < 0) _opName = "(none)";
            if (op < 0) throw Error($"file is truncated: it ends at byte offset {_pos} before the pickle's STOP opcode");
            _opName = OpName(op);
            switch (op)
            {
                case 0x80: // PROTO
                    int proto = ReadByte();
                    if (proto > 5) throw Error($"unsupported pickle protocol {proto}");
                    break;
                case 0x95: ReadBytes(8); break; // FRAME: a size hint only
                case '.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Error("STOP with an unbalanced stack");
                    return Pop();
                case '(': _marks.Add(_stack.Count); _stack.Add(Mark.Instance); break; // MARK
                case ']': _stack.Add(new List<object?>()); break; // EMPTY_LIST
                case 'l': _stack.Add(new List<object?>(PopMark())); break; // LIST
                case ')': _stack.Add(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case 't': _stack.Add(PopMark()); break; // TUPLE
                case 0x85: { var a = Pop(); _stack.Add(new[] { a }); break; } // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); _stack.Add(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); _stack.Add(new[] { a, b, c }); break; } // TUPLE3
                case 'a': { var v = Pop(); ListOnTop().Add(v); break; } // APPEND
                case 'e': { var items = PopMark(); ListOnTop().AddRange(items); break; } // APPENDS
                case 0x88: _stack.Add(true); break; // NEWTRUE
                case 0x89: _stack.Add(false); break; // NEWFALSE
                case 'I': _stack.Add(ParseIntLine(ReadLine())); break; // INT (Python 2 writes bools as I01 / I00)
                case 'L': _stack.Add(ParseLong(ReadLine().TrimEnd('L'))); break; // LONG
                case 'J': _stack.Add((long)BitConverter.ToInt32(ReadBytes(4))); break; // BININT
                case 'K': _stack.Add((long)ReadByte()); break; // BININT1
                case 'M': _stack.Add((long)BitConverter.ToUInt16(ReadBytes(2))); break; // BININT2
                case 0x8a: _stack.Add(ReadLong1()); break; // LONG1
                case 'T': _stack.Add(ReadBytes(ReadLength(4))); break; // BINSTRING (Python 2 str)
                case 'U': _stack.Add(ReadBytes(ReadByte())); break; // SHORT_BINSTRING
                case 'S': _stack.Add(ParseQuotedString(ReadLine())); break; // STRING (protocol 0)
                case 'B': _stack.Add(ReadBytes(ReadLength(4))); break; // BINBYTES
                case 'C': _stack.Add(ReadBytes(ReadByte())); break; // SHORT_BINBYTES
                case 0x8e: _stack.Add(ReadBytes(ReadLength(8))); break; // BINBYTES8
                case 0x96: _stack.Add(ReadBytes(ReadLength(8))); break; // BYTEARRAY8
                case 'X': _stack.Add(DecodeUtf8(ReadBytes(ReadLength(4)))); break; // BINUNICODE
                case 0x8c: _stack.Add(DecodeUtf8(ReadBytes(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: _stack.Add(DecodeUtf8(ReadBytes(ReadLength(8)))); break; // BINUNICODE8
                case 'V': _stack.Add(DecodeRawUnicodeEscape(ReadLine())); break; // UNICODE (protocol 0)
                case 'c': // GLOBAL
                {
                    string module = ReadLine(), name = ReadLine();
                    _stack.Add(ResolveGlobal(module, name));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    var name = Pop(); var module = Pop();
                    if (module is not string m || name is not string n) throw Error("STACK_GLOBAL needs two strings on the stack");
                    _stack.Add(ResolveGlobal(m, n));
                    break;
                }
                case 'R': // REDUCE
                {
                    var args = Pop(); var func = Pop();
                    if (func is CodecsEncode) _stack.Add(ApplyCodecsEncode(args));
                    else if (_records && func is PickledGlobal g) _stack.Add(Instantiate(g, args));
                    else throw Error("REDUCE of something other than _codecs.encode");
                    break;
                }
                case 'p': Memoize(ParseLong(ReadLine())); break; // PUT
                case 'q': Memoize(ReadByte()); break; // BINPUT
                case 'r': Memoize(BitConverter.ToUInt32(ReadBytes(4))); break; // LONG_BINPUT
                case 0x94: Memoize(_memo.Count); break; // MEMOIZE
                case 'g': Recall(ParseLong(ReadLine())); break; // GET
                case 'h': Recall(ReadByte()); break; // BINGET
                case 'j': Recall(BitConverter.ToUInt32(ReadBytes(4))); break; // LONG_BINGET
                default:
                    if (_records && RunRecordOpcode(op)) break;
                    throw Error($"pickle opcode 0x{op:x2} ({_opName}) is not allowed in {(_records ? "a checkpoint" : "a pair-set file")}");
            }
        }
    }

    private object ResolveGlobal(string module, string name)
    {
        if (module == "_codecs" && name == "encode") return CodecsEncode.Instance;
        if (_records) return new PickledGlobal(module, name);
        throw Error($"pickle global '{module}.{name}' is not allowed (only _codecs.encode, with which Python 3 pickles bytes)");
    }

    private byte[] ApplyCodecsEncode(object? args)
    {
        // Python 3 pickles bytes b at protocol < 3 as _codecs.encode(b.decode('latin1'), 'latin1').
        if (args is not object?[] tuple || tuple.Length is < 1 or > 2 || tuple[0] is not string text)
            throw Error("_codecs.encode must be called with (str, encoding)");
        string encoding = tuple.Length == 2 ? tuple[1] as string ?? throw Error("_codecs.encode encoding is not a string") : "utf-8";
        switch (encoding.ToLowerInvariant().Replace('-', '_'))
        {
            case "latin1" or "latin_1" or "iso8859_1" or "iso_8859_1" or "l1":
                var bytes = new byte[text.Length];
                for (int i = 0; i < text.Length; i++)
                {
                    if (text[i] > 0xFF) throw Error($"_codecs.encode: character U+{(int)text[i]:X4} at index {i} is not latin1");
                    bytes[i] = (byte)text[i];
                }
                return bytes;
            case "utf8" or "utf_8":
                return Encoding.UTF8.GetBytes(text);
            default:
                throw Error($"_codecs.encode with encoding '{encoding}' is not supported");
        }
    }

    private void Memoize(long key)
    {
        if (_stack.Count == 0 || _stack[^1] is Mark) throw Error("memo store with an empty stack");
        _memo[key] = _stack[^1];
    }

    private void Recall(long key)
    {
        if (!_memo.TryGetValue(key, out var v)) throw Error($"memo key {key} was never stored");
        _stack.Add(v);
    }

    private object? Pop()
    {
        if (_stack.Count == 0 || _stack[^1] is Mark) throw Error("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object?[] PopMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m + 1, _stack.Count - m - 1).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private List<object?> ListOnTop()
    {
        if (_records && _stack.Count > 0 && _stack[^1] is PickledObject o) return o.ListItems;
        if (_stack.Count == 0 || _stack[^1] is not List<object?> list) throw Error("APPEND target is not a list");
        return list;
    }

    // Opcodes of checkpoint mode only; false when op is not one of them.
    private bool RunRecordOpcode(int op)
    {
        switch (op)
        {
            case 'N': _stack.Add(null); return true; // NONE
            case 'G': _stack.Add(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); return true; // BINFLOAT
            case 'F': // FLOAT
            {
                string text = ReadLine();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) throw Error($"'{text}' is not a float");
                _stack.Add(v);
                return true;
            }
            case 0x8b: // LONG4
            {
                int n = ReadLength(4);
                if (n > 8) throw Error($"LONG4 of {n} bytes does not fit in 64 bits");
                byte[] b = ReadBytes(n);
                long v = 0;
                for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
                if (n is > 0 and < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                _stack.Add(v);
                return true;
            }
            case '}': _stack.Add(new OrderedDictionary<object, object?>()); return true; // EMPTY_DICT
            case 'd': // DICT
            {
                var items = PopMark();
                var dict = new OrderedDictionary<object, object?>();
                SetItems(dict, items);
                _stack.Add(dict);
                return true;
            }
            case 's': { var v = Pop(); var k = Pop(); SetItems(DictOnTop(), [k, v]); return true; } // SETITEM
            case 'u': { var items = PopMark(); SetItems(DictOnTop(), items); return true; } // SETITEMS
            case 0x8f: _stack.Add(new List<object?>()); return true; // EMPTY_SET
            case 0x90: { var items = PopMark(); ListOnTop().AddRange(items); return true; } // ADDITEMS
            case 0x91: _stack.Add(new List<object?>(PopMark())); return true; // FROZENSET
            case '0': // POP (of a value or of the topmost MARK)
                if (_stack.Count > 0 && _stack[^1] is Mark) PopMark();
                else Pop();
                return true;
            case '1': { var v = Pop(); _stack.Add(v); _stack.Add(v); return true; } // DUP
            case '2': PopMark(); return true; // POP_MARK
            case 'P': _stack.Add(new PickledPersistentId(ReadLine())); return true; // PERSID
            case 'Q': _stack.Add(new PickledPersistentId(Pop())); return true; // BINPERSID
            case 0x81: // NEWOBJ
            {
                var args = Pop(); var cls = Pop();
                _stack.Add(Instantiate(cls as PickledGlobal ?? throw Error("NEWOBJ of something that is not a class"), args));
                return true;
            }
            case 0x92: // NEWOBJ_EX
            {
                var kwargs = Pop(); var args = Pop(); var cls = Pop();
                var o = Instantiate(cls as PickledGlobal ?? throw Error("NEWOBJ_EX of something that is not a class"), args);
                if (o is PickledObject po) po.KeywordArgs = kwargs;
                _stack.Add(o);
                return true;
            }
            case 'o': // OBJ
            {
                var items = PopMark();
                if (items.Length == 0 || items[0] is not PickledGlobal cls) throw Error("OBJ without a class");
                _stack.Add(Instantiate(cls, items[1..]));
                return true;
            }
            case 'i': // INST
            {
                string module = ReadLine(), name = ReadLine();
                _stack.Add(Instantiate(new PickledGlobal(module, name), PopMark()));
                return true;
            }
            case 'b': // BUILD
            {
                var state = Pop();
                switch (_stack.Count > 0 ? _stack[^1] : null)
                {
                    case PickledObject o: o.State = state; break;
                    // instance attributes of a dict (torch's state-dict OrderedDict carries _metadata): not items, dropped
                    case OrderedDictionary<object, object?>: break;
                    default: throw Error("BUILD on something that is not an object");
                }
                return true;
            }
            default: return false;
        }
    }

    private object Instantiate(PickledGlobal g, object? args)
    {
        if (args is not object?[] tuple) throw Error($"{g.FullName}: arguments are not a tuple");
        // the one foreign callable turned into data: an empty OrderedDict (torch writes one for backward hooks and state dicts)
        if (g is { Module: "collections", Name: "OrderedDict" } && tuple.Length == 0) return new OrderedDictionary<object, object?>();
        return new PickledObject(g, tuple);
    }

    private OrderedDictionary<object, object?> DictOnTop()
    {
        if (_stack.Count > 0 && _stack[^1] is PickledObject o) return o.DictItems;
        if (_stack.Count == 0 || _stack[^1] is not OrderedDictionary<object, object?> dict) throw Error("SETITEM target is not a dict");
        return dict;
    }

    private void SetItems(OrderedDictionary<object, object?> dict, object?[] items)
    {
        if (items.Length % 2 != 0) throw Error("odd number of items for a dict");
        for (int i = 0; i < items.Length; i += 2)
            dict[items[i] ?? throw Error("dict key None is not supported")] = items[i + 1];
    }

    private int ReadByteOrEnd()
    {
        int b = _stream.ReadByte();
        if (b >= 0) _pos++;
        return b;
    }

    private int ReadByte()
    {
        int b = ReadByteOrEnd();
        if (b < 0) throw Truncated(1);
        return b;
    }

    private int ReadLength(int size)
    {
        long len = size == 4 ? BitConverter.ToUInt32(ReadBytes(4)) : BitConverter.ToInt64(ReadBytes(8));
        if (len < 0 || len > Array.MaxLength) throw Error($"length {len} is out of range");
        // Refuse before allocating: a cut file must not ask for gigabytes.
        if (len > _length - _pos) throw Truncated(len);
        return (int)len;
    }

    private byte[] ReadBytes(int count)
    {
        if (count > _length - _pos) throw Truncated(count);
        var buf = new byte[count];
        int got = 0;
        while (got < count)
        {
            int r = _stream.Read(buf, got, count - got);
            if (r == 0) { _pos += got; throw Truncated(count - got); }
            got += r;
        }
        _pos += count;
        return buf;
    }

    private string ReadLine()
    {
        var sb = new StringBuilder();
        while (true)
        {
            int b = ReadByteOrEnd();
            if (b < 0) throw Error($"file is truncated: it ends at byte offset {_pos} inside the text argument of {_opName}");
            if (b == '\n') break;
            if (sb.Length > 1 << 20) throw Error("text argument longer than 1 MiB");
            sb.Append((char)b);
        }
        if (sb.Length > 0 && sb[^1] == '\r') sb.Length--;
        return sb.ToString();
    }

    private object ParseIntLine(string text) => text switch
    {
        "01" => true,
        "00" => false,
        _ => ParseLong(text),
    };

    private long ParseLong(string text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)
            ? v : throw Error($"'{text}' is not an integer");

    private long ReadLong1()
    {
        int n = ReadByte();
        if (n > 8) throw Error($"LONG1 of {n} bytes does not fit in 64 bits");
        byte[] b = ReadBytes(n);
        if (n == 0) return 0;
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
        if (n < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n); // two's complement sign
        return v;
    }

    private string DecodeUtf8(byte[] bytes)
    {
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Error("text is not valid UTF-8"); }
    }

    private byte[] ParseQuotedString(string line)
    {
        // Protocol 0 STRING: a Python 2 repr, 'text' or "text" with backslash escapes.
        if (line.Length < 2 || line[0] != line[^1] || (line[0] != '\'' && line[0] != '"'))
            throw Error("STRING argument is not quoted");
        var result = new List<byte>(line.Length);
        for (int i = 1; i < line.Length - 1; i++)
        {
            char c = line[i];
            if (c != '\\') { result.Add((byte)c); continue; }
            if (++i >= line.Length - 1) throw Error("STRING ends in a backslash");
            char e = line[i];
            switch (e)
            {
                case 'n': result.Add((byte)'\n'); break;
                case 't': result.Add((byte)'\t'); break;
                case 'r': result.Add((byte)'\r'); break;
                case 'a': result.Add(7); break;
                case 'b': result.Add(8); break;
                case 'f': result.Add(12); break;
                case 'v': result.Add(11); break;
                case '\\' or '\'' or '"': result.Add((byte)e); break;
                case 'x':
                    if (i + 2 >= line.Length - 1 || !byte.TryParse(line.AsSpan(i + 1, 2), NumberStyles.HexNumber, null, out byte hx))
                        throw Error("bad \\x escape in STRING");
                    result.Add(hx); i += 2; break;
                case >= '0' and <= '7':
                    int val = 0, digits = 0;
                    while (digits < 3 && i < line.Length - 1 && line[i] is >= '0' and <= '7') { val = val * 8 + (line[i] - '0'); i++; digits++; }
                    i--;
                    result.Add((byte)val); break;
                default: result.Add((byte)'\\'); result.Add((byte)e); break;
            }
        }
        return result.ToArray();
    }

    private string DecodeRawUnicodeEscape(string latin1)
    {
        var sb = new StringBuilder(latin1.Length);
        for (int i = 0; i < latin1.Length; i++)
        {
            if (latin1[i] == '\\' && i + 1 < latin1.Length && (latin1[i + 1] == 'u' || latin1[i + 1] == 'U'))
            {
                int len = latin1[i + 1] == 'u' ? 4 : 8;
                if (i + 2 + len > latin1.Length || !int.TryParse(latin1.AsSpan(i + 2, len), NumberStyles.HexNumber, null, out int cp))
                    throw Error("bad \\u escape in UNICODE");
                sb.Append(char.ConvertFromUtf32(cp));
                i += 1 + len;
            }
            else sb.Append(latin1[i]);
        }
        return sb.ToString();
    }

    private InvalidDataException Truncated(long needed) =>
        Error($"file is truncated: {_opName} needs {needed} more byte(s) at byte offset {_pos}, but the file has {Math.Max(0, _length - _pos)} left");

    private InvalidDataException Error(string message) =>
        new($"{_name}: {message} (opcode {_opName} at byte offset {_opPos})");

    // A lookup table, several opcodes a line; the formatter would give each its own line.
#pragma warning disable format
    private static string OpName(int op) => op switch
    {
        0x80 => "PROTO", 0x95 => "FRAME", '.' => "STOP", '(' => "MARK", ']' => "EMPTY_LIST", 'l' => "LIST",
        ')' => "EMPTY_TUPLE", 't' => "TUPLE", 0x85 => "TUPLE1", 0x86 => "TUPLE2", 0x87 => "TUPLE3",
        'a' => "APPEND", 'e' => "APPENDS", 0x88 => "NEWTRUE", 0x89 => "NEWFALSE", 'I' => "INT", 'L' => "LONG",
        'J' => "BININT", 'K' => "BININT1", 'M' => "BININT2", 0x8a => "LONG1", 0x8b => "LONG4",
        'T' => "BINSTRING", 'U' => "SHORT_BINSTRING", 'S' => "STRING", 'B' => "BINBYTES", 'C' => "SHORT_BINBYTES",
        0x8e => "BINBYTES8", 0x96 => "BYTEARRAY8", 'X' => "BINUNICODE", 0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8", 'V' => "UNICODE", 'c' => "GLOBAL", 0x93 => "STACK_GLOBAL", 'R' => "REDUCE",
        'p' => "PUT", 'q' => "BINPUT", 'r' => "LONG_BINPUT", 0x94 => "MEMOIZE", 'g' => "GET", 'h' => "BINGET",
        'j' => "LONG_BINGET", 'N' => "NONE", '}' => "EMPTY_DICT", 'd' => "DICT", 's' => "SETITEM", 'u' => "SETITEMS",
        'b' => "BUILD", 'i' => "INST", 'o' => "OBJ", 0x81 => "NEWOBJ", 0x92 => "NEWOBJ_EX", 'G' => "BINFLOAT",
        'F' => "FLOAT", 0x8f => "EMPTY_SET", 0x90 => "ADDITEMS", 0x91 => "FROZENSET", 'P' => "PERSID",
        'Q' => "BINPERSID", 0x82 => "EXT1", 0x83 => "EXT2", 0x84 => "EXT4", 0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER", '0' => "POP", '1' => "DUP", '2' => "POP_MARK",
        _ => "unknown",
    };
#pragma warning restore format
}
