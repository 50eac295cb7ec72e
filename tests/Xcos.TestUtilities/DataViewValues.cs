using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Xcos.TestUtilities;

/// <summary>
/// Every value of a data view's visible columns as plain comparable objects: numbers and booleans as themselves, text
/// as string, vectors as dense arrays, images as (width, height, pixel bytes).
/// </summary>
public static class DataViewValues
{
    /// <summary>An image value: its size and pixel bytes.</summary>
    public sealed record Image(int Width, int Height, byte[] Pixels);

    /// <summary>The rows of the visible columns of <paramref name="data"/>, in schema order.</summary>
    public static List<object?[]> Rows(IDataView data)
    {
        var columns = data.Schema.Where(c => !c.IsHidden).ToArray();
        using var cursor = data.GetRowCursor(columns);
        var getters = columns.Select(c => Getter(cursor, c)).ToArray();
        var rows = new List<object?[]>();
        while (cursor.MoveNext()) rows.Add(getters.Select(g => g()).ToArray());
        return rows;
    }

    /// <summary>
    /// Asserts <paramref name="actual"/> holds the values of <paramref name="expected"/>: floating-point values within
    /// <paramref name="tolerance"/> (relative to the larger magnitude, absolute below 1; NaN equals NaN), others exactly.
    /// </summary>
    public static void AssertSame(IReadOnlyList<string> columns, List<object?[]> expected, List<object?[]> actual, double tolerance, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: {actual.Count} rows, expected {expected.Count}");
        for (int r = 0; r < expected.Count; r++)
            for (int c = 0; c < columns.Count; c++)
                if (Difference(expected[r][c], actual[r][c], tolerance) is { } diff)
                    Assert.Fail($"{what}: row {r}, column '{columns[c]}': {diff}");
    }

    private static string? Difference(object? a, object? b, double tol)
    {
        switch (a, b)
        {
            case (null, null): return null;
            case (null, _) or (_, null): return $"{a ?? "null"} vs {b ?? "null"}";
            case (float x, float y): return Close(x, y, tol) ? null : $"{x:R} vs {y:R}";
            case (double x, double y): return Close(x, y, tol) ? null : $"{x:R} vs {y:R}";
            case (Image x, Image y):
                if (x.Width != y.Width || x.Height != y.Height) return $"image {x.Width}x{x.Height} vs {y.Width}x{y.Height}";
                return Difference(x.Pixels, y.Pixels, 0) is { } p ? "pixels: " + p : null;
            case (Array x, Array y):
                if (x.Length != y.Length) return $"{x.Length} values vs {y.Length}";
                for (int i = 0; i < x.Length; i++)
                    if (Difference(x.GetValue(i), y.GetValue(i), tol) is { } d) return $"[{i}] {d}";
                return null;
            default: return Equals(a, b) ? null : $"{a} vs {b}";
        }
    }

    private static bool Close(double x, double y, double tol) =>
        (double.IsNaN(x) && double.IsNaN(y)) || x == y || Math.Abs(x - y) <= tol * Math.Max(1, Math.Max(Math.Abs(x), Math.Abs(y)));

    private static Func<object?> Getter(DataViewRow row, DataViewSchema.Column column)
    {
        var typed = typeof(DataViewValues).GetMethod(nameof(TypedGetter), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(column.Type.RawType);
        return (Func<object?>)typed.Invoke(null, [row, column])!;
    }

    private static Func<object?> TypedGetter<T>(DataViewRow row, DataViewSchema.Column column)
    {
        var get = row.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            get(ref value);
            return Plain(value);
        };
    }

    private static object? Plain(object? value) => value switch
    {
        ReadOnlyMemory<char> text => text.ToString(),
        VBuffer<float> v => v.DenseValues().ToArray(),
        VBuffer<double> v => v.DenseValues().ToArray(),
        VBuffer<bool> v => v.DenseValues().ToArray(),
        VBuffer<byte> v => v.DenseValues().ToArray(),
        VBuffer<int> v => v.DenseValues().ToArray(),
        VBuffer<long> v => v.DenseValues().ToArray(),
        VBuffer<uint> v => v.DenseValues().ToArray(),
        VBuffer<ReadOnlyMemory<char>> v => v.DenseValues().Select(t => t.ToString()).ToArray(),
        MLImage image => new Image(image.Width, image.Height, image.Pixels.ToArray()),
        _ when value?.GetType() is { IsGenericType: true } t && t.GetGenericTypeDefinition() == typeof(VBuffer<>)
            => throw new NotSupportedException($"no comparison for {t}: add its item type to DataViewValues.Plain"),
        _ => value,
    };
}
