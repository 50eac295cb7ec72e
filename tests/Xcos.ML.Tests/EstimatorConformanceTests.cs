using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Xunit.Sdk;

namespace Xcos.ML.Tests;

/// <summary>The conformance helper passes ML.NET's own estimators and fails estimators that break each part of the contract.</summary>
public class EstimatorConformanceTests
{
    private sealed class Row
    {
        public float A { get; set; }
        public float B { get; set; }
    }

    private static IDataView Data(MLContext ml) => ml.Data.LoadFromEnumerable([new Row { A = 1, B = 2 }, new Row { A = 3, B = 5 }]);

    /// <summary>An estimator that fits as <paramref name="inner"/> but declares its output schema with <paramref name="shape"/>.</summary>
    private sealed class DeclaredShape(IEstimator<ITransformer> inner, Func<IEstimator<ITransformer>, SchemaShape, SchemaShape> shape) : IEstimator<ITransformer>
    {
        public ITransformer Fit(IDataView input) => inner.Fit(input);
        public SchemaShape GetOutputSchema(SchemaShape inputSchema) => shape(inner, inputSchema);
    }

    [Fact]
    public void An_MLNet_estimator_passes_the_schema_and_round_trip_checks()
    {
        var ml = new MLContext(seed: 1);
        // Schema and round trip only: ML.NET's own bad-input errors do not all name the column (NormalizeMinMax on text:
        // "Wrong column type for input column"), and Concatenate's Fit accepts a missing column.
        var output = EstimatorConformance.Check(ml, ml.Transforms.NormalizeMinMax("N", "A"), Data(ml), new());
        Assert.Equal([1 / 3f, 1f], output.GetColumn<float>("N"));
    }

    [Fact]
    public void A_declared_schema_that_differs_from_the_output_fails()
    {
        var ml = new MLContext(seed: 1);
        // declares the input's columns only: F is missing from the promise
        var lying = new DeclaredShape(ml.Transforms.Concatenate("F", "A", "B"), (_, s) => s);
        var e = Assert.ThrowsAny<XunitException>(() => EstimatorConformance.Check(ml, lying, Data(ml), new()));
        Assert.Contains("only produced: F: Vector of Single", e.Message);
    }

    [Fact]
    public void An_estimator_that_accepts_a_missing_column_at_GetOutputSchema_fails()
    {
        var ml = new MLContext(seed: 1);
        var lenient = new DeclaredShape(ml.Transforms.Concatenate("F", "A", "B"), (inner, s) =>
        {
            try { return inner.GetOutputSchema(s); }
            catch (ArgumentException) { return s; }
        });
        var e = Assert.ThrowsAny<XunitException>(() => EstimatorConformance.Check(ml, lenient, Data(ml), new() { RequiredColumns = ["A"] }));
        Assert.Contains("column 'A' missing: GetOutputSchema accepted the input", e.Message);
    }

    public sealed class CountIn { public float A { get; set; } }
    public sealed class CountOut { public float Counted { get; set; } }

    /// <summary>A mapping whose output depends on how many rows the process has mapped: not the same after reload.</summary>
    [CustomMappingFactoryAttribute(ContractName)]
    public sealed class CountingFactory : CustomMappingFactory<CountIn, CountOut>
    {
        public const string ContractName = "Xcos.ML.Tests.Counting";
        private static int _rows;
        public static void Map(CountIn i, CountOut o) => o.Counted = i.A + Interlocked.Increment(ref _rows);
        public override Action<CountIn, CountOut> GetMapping() => Map;
    }

    [Fact]
    public void Different_values_after_save_and_load_fail()
    {
        var ml = new MLContext(seed: 1);
        var counting = ml.Transforms.CustomMapping<CountIn, CountOut>(CountingFactory.Map, CountingFactory.ContractName);
        var e = Assert.ThrowsAny<XunitException>(() =>
            EstimatorConformance.Check(ml, counting, Data(ml), new() { Assemblies = [typeof(CountingFactory).Assembly] }));
        Assert.Contains("output after Model.Save/Load: row 0, column 'Counted'", e.Message);
    }

    [Fact]
    public void Bad_inputs_are_the_missing_column_and_each_wrong_type()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Concatenate("V", "A", "B").Fit(Data(ml)).Transform(Data(ml));
        var bad = EstimatorConformance.BadInputs(ml, data, "V").ToDictionary(b => b.What, b => b.Data);
        Assert.Equal([BadInputKind.Missing, BadInputKind.WrongType, BadInputKind.WrongSize], EstimatorConformance.BadInputs(ml, data, "V").Select(b => b.Kind));
        Assert.Equal(["column 'V' missing", "column 'V' text instead of Vector<Single, 2>", "column 'V' a vector of 3 instead of 2"], bad.Keys);
        Assert.Null(bad["column 'V' missing"].Schema.GetColumnOrNull("V"));
        Assert.Equal(["not the expected type", "not the expected type"], bad["column 'V' text instead of Vector<Single, 2>"].GetColumn<string>("V"));
        Assert.Equal([0f, 0f, 0f], bad["column 'V' a vector of 3 instead of 2"].GetColumn<float[]>("V").First());
        // the other columns read through unchanged
        Assert.Equal([1f, 3f], bad["column 'V' a vector of 3 instead of 2"].GetColumn<float>("A"));
    }
}
