namespace Xcos.ML.Data.Pickle;

/// <summary>
/// What a pickle asked to build (by REDUCE, NEWOBJ, OBJ or INST) from a class or function it names, kept as data:
/// the callable is never resolved or called. <see cref="State"/> is what BUILD would have passed to
/// <c>__setstate__</c>; <see cref="DictItems"/> and <see cref="ListItems"/> are what SETITEMS / APPENDS added.
/// </summary>
internal sealed class PickledObject(PickledGlobal type, IReadOnlyList<object?> args)
{
    /// <summary>The class or function.</summary>
    public PickledGlobal Type { get; } = type;
    /// <summary>Positional arguments of the call (REDUCE, NEWOBJ, OBJ or INST), in order.</summary>
    public IReadOnlyList<object?> Args { get; } = args;
    /// <summary>Keyword arguments (NEWOBJ_EX), else null.</summary>
    public object? KeywordArgs { get; internal set; }
    /// <summary>BUILD state, else null.</summary>
    public object? State { get; internal set; }
    /// <summary>Items set on the object as on a dict (a dict subclass such as attrdict.AttrDict).</summary>
    public OrderedDictionary<object, object?> DictItems { get; } = new();
    /// <summary>Items appended to the object as to a list.</summary>
    public List<object?> ListItems { get; } = new();

    /// <inheritdoc />
    public override string ToString() => $"{Type.FullName}(...)";
}
