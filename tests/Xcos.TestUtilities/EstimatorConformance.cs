using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Xcos.TestUtilities;

/// <summary>
/// The checks ML.NET's own estimator tests make (TestEstimatorCore), for one estimator and a small valid input:
/// <list type="number">
/// <item>GetOutputSchema on the input's shape equals the shape of what the fitted transformer outputs, and the
/// transformer's GetOutputSchema equals the schema of its Transform;</item>
/// <item>Fit and Transform work and every output value can be read;</item>
/// <item>the model saves with <c>mlContext.Model.Save</c> and loads with <c>Model.Load</c> in a new context, with the
/// same input schema, the same output schema and the same values;</item>
/// <item>each required input column, when missing or of a wrong type (text, a number, or a vector of the wrong size),
/// is refused at GetOutputSchema (but for a wrong vector size, which a schema shape does not carry) and at Fit with an
/// <see cref="ArgumentException"/> or <see cref="InvalidOperationException"/> whose message names the column, and by
/// the fitted transformer's Transform with one of those.</item>
/// </list>
/// </summary>
public static class EstimatorConformance
{
    /// <summary>
    /// Runs every check on <paramref name="input"/> (after <see cref="EstimatorConformanceOptions.Upstream"/>, when given);
    /// returns the fitted transformer's output for further asserts.
    /// </summary>
    public static IDataView Check(MLContext ml, IEstimator<ITransformer> estimator, IDataView input, EstimatorConformanceOptions options)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(estimator);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        var upstream = options.Upstream?.Fit(input);
        var data = upstream?.Transform(input) ?? input;

        var shape = estimator.GetOutputSchema(ShapeOf(data.Schema));
        var transformer = estimator.Fit(data);
        var output = transformer.Transform(data);
        AssertSameShape(shape, ShapeOf(output.Schema), "GetOutputSchema vs the fitted transformer's output");
        AssertSameSchema(transformer.GetOutputSchema(data.Schema), output.Schema, "the transformer's GetOutputSchema vs its Transform");
        var columns = output.Schema.Where(c => !c.IsHidden).Select(c => c.Name).ToArray();
        var rows = DataViewValues.Rows(output);
        Assert.True(rows.Count > 0, "the input has no rows: give the conformance check at least one");

        // Saved with the raw input's schema, as an application saves its whole pipeline.
        ITransformer model = upstream is null ? transformer : new TransformerChain<ITransformer>(upstream, transformer);
        var reloaded = SaveAndLoad(ml, model, input, options.Assemblies);
        try
        {
            var again = reloaded.Transform(input);
            AssertSameSchema(output.Schema, again.Schema, "output schema after Model.Save/Load");
            DataViewValues.AssertSame(columns, rows, DataViewValues.Rows(again), options.Tolerance, "output after Model.Save/Load");
        }
        finally { (reloaded as IDisposable)?.Dispose(); }

        foreach (var column in options.RequiredColumns)
            foreach (var (what, bad, kind) in BadInputs(ml, data, column))
                ExpectRefused(estimator, transformer, bad, column, what, kind,
                    checkTransformer: kind == BadInputKind.Missing || !options.LaxTransformerColumns.ContainsKey(column));
        return output;
    }

    /// <summary>The inputs that must be refused for <paramref name="column"/>: without it, and with it of each wrong type.</summary>
    public static IEnumerable<(string What, IDataView Data, BadInputKind Kind)> BadInputs(MLContext ml, IDataView input, string column)
    {
        var type = input.Schema.GetColumnOrNull(column)?.Type
            ?? throw new ArgumentException($"required column '{column}' is not in the valid input", nameof(column));
        yield return ($"column '{column}' missing", ml.Transforms.DropColumns(column).Fit(input).Transform(input), BadInputKind.Missing);
        if (type is TextDataViewType) yield return ($"column '{column}' a Single instead of text", ReplacedColumnView.AsSingle(input, column), BadInputKind.WrongType);
        else yield return ($"column '{column}' text instead of {type}", ReplacedColumnView.AsText(input, column), BadInputKind.WrongType);
        if (type is VectorDataViewType { Size: > 0 } vector && vector.ItemType == NumberDataViewType.Single)
            yield return ($"column '{column}' a vector of {vector.Size + 1} instead of {vector.Size}", ReplacedColumnView.AsSingleVector(input, column, vector.Size + 1),
                BadInputKind.WrongSize);
    }

    // The estimator must name the user's column; the fitted transformer (often a chain of ML.NET's own) must refuse
    // before reading a row, as ML.NET's tests require, though its message may name an inner column.
    private static void ExpectRefused(IEstimator<ITransformer> estimator, ITransformer fitted, IDataView bad, string column, string what, BadInputKind kind,
        bool checkTransformer)
    {
        if (kind != BadInputKind.WrongSize) AssertSchemaError(() => estimator.GetOutputSchema(ShapeOf(bad.Schema)), column, $"{what}: GetOutputSchema");
        AssertSchemaError(() => estimator.Fit(bad), column, $"{what}: Fit");
        if (checkTransformer) AssertSchemaError(() => fitted.Transform(bad), null, $"{what}: the fitted transformer's Transform");
    }

    private static void AssertSchemaError(Action act, string? column, string what)
    {
        var e = Record.Exception(act);
        Assert.True(e is not null, $"{what} accepted the input");
        Assert.True(e is ArgumentException or InvalidOperationException, $"{what} threw {e!.GetType().Name}, not a schema error: {e.Message}");
        if (column is not null)
            Assert.True(e.Message.Contains($"'{column}'", StringComparison.Ordinal), $"{what}: the message does not name '{column}': {e.Message}");
    }

    private static ITransformer SaveAndLoad(MLContext ml, ITransformer transformer, IDataView input, IReadOnlyList<Assembly> assemblies)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(transformer, input.Schema, stream);
        stream.Position = 0;
        // A new context, as a process that loads the model has: only the registered assemblies resolve custom mappings.
        var loading = new MLContext(seed: 1);
        foreach (var a in assemblies) loading.ComponentCatalog.RegisterAssembly(a);
        var loaded = loading.Model.Load(stream, out var savedInput);
        AssertSameSchema(input.Schema, savedInput, "input schema saved with the model");
        return loaded;
    }

    /// <summary>
    /// The schema shape of a data view's schema, as ML.NET's pipelines build it (SchemaShape.Create is internal to ML.NET;
    /// its own estimator tests call it directly).
    /// </summary>
    public static SchemaShape ShapeOf(DataViewSchema schema) => (SchemaShape)CreateShape.Invoke(null, [schema])!;

    private static readonly MethodInfo CreateShape = typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic,
        [typeof(DataViewSchema)]) ?? throw new MissingMethodException("SchemaShape.Create(DataViewSchema) not found in this ML.NET version");

    /// <summary>Same columns in the same order, with the same names, types and visibility.</summary>
    public static void AssertSameSchema(DataViewSchema expected, DataViewSchema actual, string what)
    {
        string Describe(DataViewSchema s) => string.Join(", ", s.Select(c => $"{c.Name}{(c.IsHidden ? " (hidden)" : "")}: {c.Type}"));
        bool same = expected.Count == actual.Count
            && expected.Zip(actual).All(p => p.First.Name == p.Second.Name && p.First.IsHidden == p.Second.IsHidden && p.First.Type.Equals(p.Second.Type));
        Assert.True(same, $"{what} differ:\n expected {Describe(expected)}\n actual   {Describe(actual)}");
    }

    /// <summary>Same column names, each with the same kind (scalar, vector, variable vector), item type and key-ness.</summary>
    public static void AssertSameShape(SchemaShape expected, SchemaShape actual, string what)
    {
        string Describe(SchemaShape.Column c) => $"{c.Name}: {c.Kind} of {c.ItemType}{(c.IsKey ? " (key)" : "")}";
        var want = expected.Select(Describe).Order(StringComparer.Ordinal).ToArray();
        var got = actual.Select(Describe).Order(StringComparer.Ordinal).ToArray();
        Assert.True(want.SequenceEqual(got), $"{what} differ:\n only declared: {string.Join("; ", want.Except(got))}\n only produced: {string.Join("; ", got.Except(want))}");
    }
}
