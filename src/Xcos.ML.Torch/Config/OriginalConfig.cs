using System.Globalization;
using System.Text.Json;
using Xcos.ML.Torch.Training;

namespace Xcos.ML.Torch.Config;

/// <summary>
/// A configuration file in the original xCos (pytorch-template) schema: <c>optimizers</c>, <c>lr_schedulers</c>,
/// <c>trainer</c>, <c>arch</c>, <c>data_loader</c>, <c>valid_data_loaders</c> / <c>test_data_loaders</c>
/// (FaceBinDataLoader: <c>&lt;data_dir&gt;/&lt;name&gt;.bin</c>), <c>losses</c>, <c>metrics</c>. Keys the original knows
/// but this port does not act on are collected in <see cref="Ignored"/> (callers warn); any other key is an error.
/// Settings the original hard-codes in Python (backbone, depth, grid channels, margin head, target checkpoint) may be
/// given as extra <c>arch.args</c>; relative paths are resolved against the current directory, as the original does.
/// </summary>
public sealed record OriginalConfig
{
    /// <summary>Path of the config file read, named in every error about it.</summary>
    public required string Source { get; init; }
    /// <summary>The <c>name</c> entry (experiment name).</summary>
    public string? Name { get; init; }
    /// <summary>Trainer options from the file over <see cref="XcosTrainerOptions"/>' defaults.</summary>
    public required XcosTrainerOptions Trainer { get; init; }
    /// <summary><c>data_loader.args.data_dir</c>: the training image folder, if given.</summary>
    public string? TrainDataDir { get; init; }
    /// <summary><c>trainer.save_dir</c>, if given.</summary>
    public string? SaveDir { get; init; }
    /// <summary><c>arch.args.class_num</c>, if given (the head's classes come from the training data).</summary>
    public int? ClassNum { get; init; }
    /// <summary>Pair sets of <c>valid_data_loaders</c>, in file order.</summary>
    public IReadOnlyList<string> ValidationSets { get; init; } = [];
    /// <summary>Pair sets of <c>test_data_loaders</c>, in file order.</summary>
    public IReadOnlyList<string> TestSets { get; init; } = [];
    /// <summary>Keys present in the file that the original knows and this port ignores (dotted paths).</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];

    /// <summary>One warning line naming the ignored keys, or null when none.</summary>
    public string? Warning => Ignored.Count == 0 ? null
        : $"{Source}: known keys of the original's schema that are not supported here, ignored: {string.Join(", ", Ignored)}.";

    /// <summary>True when the JSON file is in the original's schema (it has one of its section names at the top).</summary>
    public static bool IsOriginalSchema(string path)
    {
        using var doc = ParseDocument(File.ReadAllText(path), path);
        return doc.RootElement.ValueKind == JsonValueKind.Object &&
            doc.RootElement.EnumerateObject().Any(p => p.Name is "arch" or "data_loader" or "optimizers" or "trainer" or "losses" or "test_data_loaders" or "valid_data_loaders");
    }

    /// <summary>Reads and validates the original xCos JSON config at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">Invalid JSON, an unknown key, a wrong type or an unsupported value; the message names the file and the key.</exception>
    public static OriginalConfig Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Reads JSON text; <paramref name="source"/> names it in messages.</summary>
    public static OriginalConfig Parse(string json, string source)
    {
        using var doc = ParseDocument(json, source);
        return new OriginalConfigReader(source).Read(doc.RootElement);
    }

    /// <summary>One of the recipes shipped in the repository's <c>configs/</c> folder (embedded in this assembly), e.g.
    /// "demo_train_config.json".</summary>
    /// <exception cref="FileNotFoundException">No such recipe; the message lists the shipped ones.</exception>
    public static OriginalConfig Recipe(string fileName)
    {
        var asm = typeof(OriginalConfig).Assembly;
        using var stream = asm.GetManifestResourceStream("configs/" + fileName)
            ?? throw new FileNotFoundException($"no shipped recipe '{fileName}'; shipped: {string.Join(", ", RecipeNames())}.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd(), "configs/" + fileName);
    }

    /// <summary>File names of the shipped recipes.</summary>
    public static IReadOnlyList<string> RecipeNames() => typeof(OriginalConfig).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith("configs/", StringComparison.Ordinal)).Select(n => n["configs/".Length..]).Order(StringComparer.Ordinal).ToList();

    private static JsonDocument ParseDocument(string json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e); }
        if (JsonDuplicateKeys.Find(json, StringComparer.Ordinal) is { } twice)
        {
            doc.Dispose();
            throw new InvalidDataException($"{source}: key '{twice}' is given twice; keep one (JSON would silently take the last).");
        }
        return doc;
    }

    internal static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
