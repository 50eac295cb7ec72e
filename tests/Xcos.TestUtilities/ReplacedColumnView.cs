using Microsoft.ML;
using Microsoft.ML.Data;

namespace Xcos.TestUtilities;

/// <summary>
/// A data view that is its source with one column's type replaced (same name, same position) and every value of that
/// column a constant: an input a schema check must refuse. Other columns are read from the source unchanged.
/// </summary>
public sealed class ReplacedColumnView : IDataView
{
    private readonly IDataView _source;
    private readonly int _index;
    private readonly Delegate _getter;

    private ReplacedColumnView(IDataView source, int index, DataViewType type, Delegate getter)
    {
        _source = source;
        _index = index;
        _getter = getter;
        var builder = new DataViewSchema.Builder();
        // Same names in the same order: columns hidden in the source stay hidden here, and indices stay the same.
        foreach (var c in source.Schema)
            builder.AddColumn(c.Name, c.Index == index ? type : c.Type, c.Index == index ? null : c.Annotations);
        Schema = builder.ToSchema();
    }

    /// <summary>The source with the visible column <paramref name="column"/> turned into text ("not the expected type").</summary>
    public static IDataView AsText(IDataView source, string column)
    {
        var text = "not the expected type".AsMemory();
        return new ReplacedColumnView(source, IndexOf(source, column), TextDataViewType.Instance,
            (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> v) => v = text));
    }

    /// <summary>The source with the visible column <paramref name="column"/> turned into a Single scalar (0).</summary>
    public static IDataView AsSingle(IDataView source, string column) =>
        new ReplacedColumnView(source, IndexOf(source, column), NumberDataViewType.Single, (ValueGetter<float>)((ref float v) => v = 0));

    /// <summary>The source with the visible column <paramref name="column"/> turned into a Single vector of <paramref name="size"/> zeros.</summary>
    public static IDataView AsSingleVector(IDataView source, string column, int size) =>
        new ReplacedColumnView(source, IndexOf(source, column), new VectorDataViewType(NumberDataViewType.Single, size),
            (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => v = new VBuffer<float>(size, new float[size])));

    private static int IndexOf(IDataView source, string column) =>
        source.Schema.GetColumnOrNull(column)?.Index ?? throw new ArgumentException($"column '{column}' is not in the data", nameof(column));

    /// <inheritdoc/>
    public bool CanShuffle => false;

    /// <inheritdoc/>
    public DataViewSchema Schema { get; }

    /// <inheritdoc/>
    public long? GetRowCount() => _source.GetRowCount();

    /// <inheritdoc/>
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, _source.GetRowCursor(columnsNeeded.Where(c => c.Index != _index).Select(c => _source.Schema[c.Index]), rand));

    /// <inheritdoc/>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(ReplacedColumnView view, DataViewRowCursor source) : DataViewRowCursor
    {
        public override DataViewSchema Schema => view.Schema;
        public override long Position => source.Position;
        public override long Batch => source.Batch;
        public override bool MoveNext() => source.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => source.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == view._index || source.IsColumnActive(source.Schema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            column.Index == view._index
                ? view._getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"column '{column.Name}' is {view.Schema[column.Index].Type}, not {typeof(TValue)}")
                : source.GetGetter<TValue>(source.Schema[column.Index]);

        protected override void Dispose(bool disposing)
        {
            if (disposing) source.Dispose();
            base.Dispose(disposing);
        }
    }
}
