namespace Xcos.ML.Text;

/// <summary>
/// The one mapping between an enum and the text that files, JSON and command lines hold for it. Code passes the enum;
/// only the edges (parsing options, reading and writing files) convert, through the one instance kept for that enum.
/// </summary>
/// <typeparam name="T">The enum.</typeparam>
public sealed class EnumText<T> where T : struct, Enum
{
    private readonly Dictionary<T, string> _texts = [];
    private readonly Dictionary<string, T> _values = new(StringComparer.Ordinal);

    /// <summary>A mapping; <paramref name="what"/> names the value in error messages (e.g. "patch fill").</summary>
    /// <param name="what">What a value of <typeparamref name="T"/> is, for error messages.</param>
    /// <param name="pairs">Each value with its text; a value may have extra texts accepted when parsing (the first is written).</param>
    /// <exception cref="ArgumentException">A text given twice.</exception>
    public EnumText(string what, params (string Text, T Value)[] pairs)
    {
        What = what;
        foreach (var (text, value) in pairs)
        {
            _texts.TryAdd(value, text);
            if (!_values.TryAdd(text, value)) throw new ArgumentException($"{what}: text '{text}' is given twice", nameof(pairs));
        }
    }

    /// <summary>What a value is, as error messages name it.</summary>
    public string What { get; }

    /// <summary>The texts written, in declaration order (for help and error messages).</summary>
    public IEnumerable<string> Texts => _texts.Values;

    /// <summary>The text written for <paramref name="value"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value without a text.</exception>
    public string ToText(T value) =>
        _texts.TryGetValue(value, out var t) ? t : throw new ArgumentOutOfRangeException(nameof(value), value, $"{What} has no text");

    /// <summary>The value of <paramref name="text"/> (exact, case-sensitive), or false.</summary>
    public bool TryParse(string? text, out T value)
    {
        value = default;
        return text is not null && _values.TryGetValue(text, out value);
    }

    /// <summary>The value of <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">Not one of the texts; the message lists them.</exception>
    public T Parse(string? text) =>
        TryParse(text, out var v) ? v : throw new FormatException($"{What} '{text}': expected {Expected}");

    /// <summary>"a, b or c": the texts written, for messages.</summary>
    public string Expected
    {
        get
        {
            var t = _texts.Values.ToList();
            return t.Count == 1 ? t[0] : string.Join(", ", t.Take(t.Count - 1)) + " or " + t[^1];
        }
    }
}
