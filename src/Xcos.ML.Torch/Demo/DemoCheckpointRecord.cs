using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Xcos.ML.Torch.Demo;

/// <summary>
/// What a demo checkpoint is and what it scored, kept next to it as <c>NAME.json</c> (snake_case): the recipe, seed,
/// threads and fixed number of steps it was trained with, the synthetic data it was trained and measured on (with a
/// digest of the held-out pairs and pixels), and its held-out figures and per-pair scores. The shipped one is
/// <c>data/demo/xcos_demo.json</c>; <c>xcos demo --train</c> writes a new one to <c>OUT/checkpoint/</c>.
/// </summary>
public sealed record DemoCheckpointRecord
{
    /// <summary>File name of the checkpoint a demo run writes and ships.</summary>
    public const string CheckpointFileName = "xcos_demo.pth";

    /// <summary>File name of the pair list copied next to the checkpoint.</summary>
    public const string PairsFileName = "val_pairs.tsv";

    /// <summary>Folder of the shipped checkpoint, its record and pairs: <c>data/demo</c> next to the application.</summary>
    public static string ShippedDirectory => Path.Combine(AppContext.BaseDirectory, "data", "demo");

    /// <summary>The shipped checkpoint.</summary>
    public static string ShippedCheckpoint => Path.Combine(ShippedDirectory, CheckpointFileName);

    /// <summary>The checkpoint's file name (next to this record).</summary>
    public required string Checkpoint { get; init; }

    /// <summary>SHA-256 (hex) of the checkpoint file.</summary>
    public required string CheckpointSha256 { get; init; }

    /// <summary>The training recipe, a file of the repository's <c>configs/</c> (original xCos schema).</summary>
    public required string Recipe { get; init; }

    /// <summary>The backbone ("mobilefacenet").</summary>
    public required string Architecture { get; init; }

    /// <summary>Seed of weight initialisation, pair sampling and augmentation.</summary>
    public required int Seed { get; init; }

    /// <summary>libtorch intra-op threads of the training (the order of floating-point sums depends on it).</summary>
    public required int Threads { get; init; }

    /// <summary>Epochs trained.</summary>
    public required int Epochs { get; init; }

    /// <summary>Training steps (epochs times steps per epoch; fixed by the recipe and the data, not by time).</summary>
    public required long Steps { get; init; }

    /// <summary>Pairs per step.</summary>
    public required int BatchSize { get; init; }

    /// <summary>The synthetic identities trained and measured on.</summary>
    public required DemoDataRecipe Data { get; init; }

    /// <summary>Identities trained on.</summary>
    public required int TrainIdentities { get; init; }

    /// <summary>Identities held out (never trained on) and measured on.</summary>
    public required int HeldOutIdentities { get; init; }

    /// <summary>The held-out pair list (next to this record; the demo regenerates its images from <see cref="Data"/>).</summary>
    public required string ValidationPairs { get; init; }

    /// <summary>SHA-256 of the pair list and the pixels of its images (<see cref="DemoData.ValidationDigest"/>).</summary>
    public required string ValidationSha256 { get; init; }

    /// <summary>xCos on the held-out pairs (10-fold protocol), scored by the ML.NET pipeline through ONNX Runtime.</summary>
    public required DemoScore Xcos { get; init; }

    /// <summary>Plain cosine of the flattened grid embeddings on the same pairs.</summary>
    public required DemoScore Cosine { get; init; }

    /// <summary>Cosine of the raw normalised pixels: the baseline a model has to beat.</summary>
    public required DemoScore PixelCosine { get; init; }

    /// <summary>xCos threshold of the best accuracy on all held-out pairs (what the pipeline fits).</summary>
    public required double Threshold { get; init; }

    /// <summary>xCos of each held-out pair, in pair-list order.</summary>
    public required float[] XcosScores { get; init; }

    /// <summary>Cosine of each held-out pair, in pair-list order.</summary>
    public required float[] CosineScores { get; init; }

    /// <summary>The command that made the checkpoint.</summary>
    public required string Command { get; init; }

    /// <summary>Training wall time in seconds where it was made: the one figure here that depends on the machine.</summary>
    public double TrainingSeconds { get; init; }

    /// <summary>JSON settings of the record: snake_case, indented.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The record of <paramref name="checkpoint"/>: the file of the same name with the extension <c>.json</c>.</summary>
    public static string PathFor(string checkpoint) => Path.ChangeExtension(checkpoint, ".json");

    /// <summary>Reads the record next to <paramref name="checkpoint"/> and checks it against the checkpoint.</summary>
    /// <exception cref="FileNotFoundException">The checkpoint or its record is missing (the message says how to make one).</exception>
    /// <exception cref="InvalidDataException">The record is not valid, is incomplete, or belongs to other weights (named).</exception>
    public static DemoCheckpointRecord ReadFor(string checkpoint)
    {
        if (!File.Exists(checkpoint))
            throw new FileNotFoundException($"demo checkpoint not found: {checkpoint} (`xcos demo --train` makes one)", checkpoint);
        string path = PathFor(checkpoint);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{checkpoint}: its record {Path.GetFileName(path)} (recipe, data, recorded scores) is not next to it; `xcos demo --train` writes both", path);
        DemoCheckpointRecord record;
        try
        {
            record = JsonSerializer.Deserialize<DemoCheckpointRecord>(File.ReadAllText(path), JsonOptions)
                ?? throw new InvalidDataException($"{path}: the JSON is null; expected a demo checkpoint record.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a demo checkpoint record ({e.Message})", e);
        }
        int pairs = record.Data?.ValidationPairs ?? 0;
        if (record.XcosScores is null || record.CosineScores is null || record.XcosScores.Length != pairs || record.CosineScores.Length != pairs)
            throw new InvalidDataException($"{path}: data.validation_pairs is {pairs}, but xcos_scores and cosine_scores hold {record.XcosScores?.Length ?? 0} and {record.CosineScores?.Length ?? 0}.");
        string sha = Sha256(checkpoint);
        if (!string.Equals(sha, record.CheckpointSha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path}: records checkpoint_sha256 {record.CheckpointSha256}, but {checkpoint} has {sha}: the record belongs to other weights.");
        return record;
    }

    /// <summary>Writes this record as <c>NAME.json</c> next to <paramref name="checkpoint"/> (temporary file, then rename).</summary>
    public void WriteFor(string checkpoint)
    {
        string path = PathFor(checkpoint);
        string temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temp, JsonSerializer.Serialize(this, JsonOptions) + "\n");
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>SHA-256 (hex, lower case) of a file.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
